"""One request of a batch, run by the task runner through the pipeline (`admit`), as its route
runs an HTTP request: the key's scopes and limits, the model's rules, the worst case held, the
deployments tried in order. A message batch's answer is translated to an Anthropic message; an
OpenAI batch's line is answered as /v1/chat/completions or /v1/embeddings would (api/batch_kinds.py).

It is charged once, with the ledger entry id `batch:<batch id>:<idx>`:
1. the answer and its cost are kept with the request (`answered`);
2. the pipeline settles it under that entry id (this process's outbox, then the ledger);
3. the request is marked `succeeded`.
A runner that stops before 1 leaves a request that is run again (nothing was charged); one that
stops after 1 leaves an answered request, which the next runner ends without running it: charged
already when the ledger holds its entry (the outbox of the dead process replayed), else charged
there and then, with its end, in one transaction (store/batches.py).
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from omnigate.api.batch_kinds import EntryKind, kind_of
from omnigate.api.chat_call import token_estimate
from omnigate.api.pipeline import Call, admit
from omnigate.billing.pricing import Used, upstream_credits
from omnigate.errors import ApiError
from omnigate.gateway import Gateway
from omnigate.providers.anthropic.inbound import InboundError
from omnigate.store.batches import EntryRow
from omnigate.store.rows import LedgerEntry

log = logging.getLogger(__name__)
# A request refused by a rate limit that names no wait is tried again after this (seconds).
RATE_LIMITED_WAIT_S = 5.0


async def run_entry(gw: Gateway, entry: EntryRow, owner: str) -> None:
    if entry.status == "answered":
        await _charge_left_over(gw, entry, owner)
        return
    key = gw.keys.by_prefix(entry.key_prefix)
    if key is None or key.disabled:
        failure = ApiError(
            401, "The key that created this batch is disabled or deleted; the request was not run."
        )
        await _end_errored(gw, entry, owner, failure)
        return
    kind = kind_of(entry)
    try:
        body = kind.body(orjson.loads(entry.params))
    except InboundError as exc:  # checked when the batch was created; kept for older rows
        await _end_errored(gw, entry, owner, ApiError(400, str(exc), param=exc.param))
        return
    size = len(entry.params)
    try:
        call = await admit(
            gw,
            key,
            body,
            family=kind.family,
            estimate=token_estimate(size, gw.settings.billing, generates=kind.generates),
            request_id=entry.request_id,
            body_size=size,
            check=kind.check,
        )
    except ApiError as err:
        if err.status == 429:  # a limit of the key or account: its turn comes again
            wait = float(err.headers.get("Retry-After") or RATE_LIMITED_WAIT_S)
            await asyncio.to_thread(gw.db.postpone_entry, entry, owner, wait)
        else:
            await _end_errored(gw, entry, owner, err)
        return
    try:
        await _answer(gw, call, entry, owner, kind)
    finally:
        await call.release()


async def _answer(gw: Gateway, call: Call, entry: EntryRow, owner: str, kind: EntryKind) -> None:
    try:
        result, usage, completion = await kind.answer(call, entry)
    except ApiError as err:
        await _end_errored(gw, entry, owner, err)
        return
    used, credits = Used.from_usage(usage), upstream_credits(completion)
    kept = await asyncio.to_thread(
        gw.db.entry_answered,
        entry,
        owner,
        result=orjson.dumps(result).decode(),
        cost=call.cost(used, credits),
        model=call.served_model,
        prompt_tokens=used.prompt_tokens,
        completion_tokens=used.completion_tokens,
    )
    if not kept:
        log.warning("batch request %s: another runner took it over; this answer is dropped", entry.request_id)
        return
    note = f"batch {entry.batch_id} request {entry.custom_id}"
    await call.settle(used, upstream_credits=credits, note=note, entry_id=entry.entry_id)
    await asyncio.to_thread(gw.db.end_entry, entry, owner, status="succeeded")


async def _end_errored(gw: Gateway, entry: EntryRow, owner: str, err: ApiError) -> None:
    """The request ends `errored`, uncharged, with the error as its kind of batch gives it."""
    result = orjson.dumps(kind_of(entry).failed(err)).decode()
    await asyncio.to_thread(gw.db.end_entry, entry, owner, status="errored", result=result)


async def _charge_left_over(gw: Gateway, entry: EntryRow, owner: str) -> None:
    """An answered request whose runner stopped before marking it charged."""
    if await asyncio.to_thread(gw.db.ledger_amount, entry.entry_id) is not None:
        await asyncio.to_thread(gw.db.end_entry, entry, owner, status="succeeded")
        return
    cost = max(0, entry.cost or 0)
    charge = LedgerEntry(
        entry_id=entry.entry_id,
        account_id=entry.account_id,
        amount=-cost,
        kind="charge",
        key_prefix=entry.key_prefix,
        model=entry.model,
        request_id=entry.request_id,
        prompt_tokens=entry.prompt_tokens,
        completion_tokens=entry.completion_tokens,
        note=f"batch {entry.batch_id} request {entry.custom_id}: charged by the runner that took it over",
    )
    ended = await asyncio.to_thread(
        gw.db.end_entry, entry, owner, status="succeeded", charge=charge, origin=gw.sync.origin
    )
    if ended:
        # The live balances take the charge once, by its entry id.
        await gw.sync.credited(entry.account_id, -cost, entry.entry_id)
