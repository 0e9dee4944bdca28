"""Message batches, as the service serves them (Anthropic's shape), over every chat model:

    POST /v1/batches                  {requests: [{custom_id, params}]} -> the batch object
    GET  /v1/batches?batch_id=ID      the batch object while it runs; its results (JSONL) once ended
    GET  /v1/batches/{batch_id}       the batch object, always
    POST /v1/batches/cancel/{id}      cancel; 400 once the batch has ended

Each request's `params` is an Anthropic Messages request. The whole body is checked before
anything is stored: every request is translated to its chat body and checked against its model's
rules, so a bad one refuses the batch with a 400 naming it (`requests[3].params.model`). The task
runner then runs the requests (tasks/batches.py, api/batch_entry.py), each one through the
pipeline like any chat call, charged once when it succeeds; nothing is held or charged at creation.

OpenAI's own batches (`input_file_id` of an uploaded JSONL file, `batch_...` ids) share these
routes, the store and the runner: api/openai_batches.py serves the routes for both kinds and tells
them apart by the create body's shape and by the batch's row; this module is the message batch's
half, and the checks both kinds make of a request.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
from aiohttp import web

from omnigate.api.common import in_db, resolve_model, validate
from omnigate.api.pipeline import Family
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request, not_found
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.scopes import require_scope
from omnigate.providers.anthropic.inbound import InboundError, to_chat_body
from omnigate.settings_tables import megabytes
from omnigate.store.batches import BatchRow
from omnigate.store.rows import KeyRow
from omnigate.store.timestamps import now

BATCHES = Family("/v1/batches", ("chat-completion",))
# The service's documented default for a batch request without one.
DEFAULT_MAX_TOKENS = 1024
_CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_ALPHABET = string.ascii_letters + string.digits


def chat_body(params: dict) -> dict:
    """The chat body of one request's params (an Anthropic Messages request)."""
    if "max_tokens" not in params:
        params = {**params, "max_tokens": DEFAULT_MAX_TOKENS}
    return to_chat_body(params)


# -- the message batch's half of the routes (api/openai_batches.py serves them, for both kinds) ----
async def create_message_batch(
    request: web.Request, gw: Gateway, key: KeyRow, body: dict, raw: bytes
) -> web.Response:
    require_scope(key, BATCHES.endpoint)
    check_size(gw, len(raw), "requests")
    requests = _checked_requests(gw, key, body)
    batch_id = "msgbatch_" + new_id()
    await in_db(
        gw.db.insert_batch,
        batch_id=batch_id,
        account_id=key.account_id,
        key_prefix=key.prefix,
        request_id=request[REQUEST_ID],
        expires_at=now() + timedelta(seconds=gw.settings.batches.expires_s),
        requests=requests,
    )
    gw.runner.nudge()
    return answer(request, batch_object(await owned(request, key, batch_id), origin(request)))


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def check_size(gw: Gateway, size: int, param: str) -> None:
    """413 past `[batches] max_body_mb`: the create body, or an OpenAI batch's input file."""
    limit = megabytes(gw.settings.batches.max_body_mb)
    if size > limit:
        raise ApiError(
            413,
            f"Request body too large: a batch may be at most {limit} bytes ([batches] max_body_mb).",
            code="body_too_large",
            param=param,
        )


def check_count(gw: Gateway, count: int, param: str) -> None:
    most = gw.settings.batches.max_requests
    if count > most:
        raise bad_request(
            f"{BODY_VALIDATION} {param}: a batch holds at most {most} requests, got {count}.", param=param
        )


async def message_results(request: web.Request, batch: BatchRow) -> web.Response:
    """A message batch while it runs; its results (JSONL) once it has ended."""
    if batch.status != "ended":
        request.app[GATEWAY].runner.nudge()
        return answer(request, batch_object(batch, origin(request)))
    lines = await in_db(request.app[GATEWAY].db.batch_results, batch.id)
    body = b"".join(
        b'{"custom_id":' + orjson.dumps(custom_id) + b',"result":' + result.encode() + b"}\n"
        for custom_id, result in lines
        if result is not None
    )
    return web.Response(
        body=body, headers={"Content-Type": "application/jsonl", "X-Request-Id": request[REQUEST_ID]}
    )


async def cancel_owned(request: web.Request, batch: BatchRow) -> BatchRow:
    """Cancel a batch of either kind: the batch as it is after; 400 once it has ended."""
    if batch.status == "ended":
        raise _ended(batch)
    after = await in_db(request.app[GATEWAY].db.cancel_batch, batch.id) or batch
    if after.status == "ended" and after.cancel_initiated_at is None:
        raise _ended(after)  # its last request ended before this cancel reached it
    return after


def _ended(batch: BatchRow) -> ApiError:
    return bad_request(
        f"Batch {batch.id} cannot be canceled because it has already finished processing.",
        param="batch_id",
        code="batch_ended",
    )


# -- helpers --------------------------------------------------------------------------------------
async def owned(request: web.Request, key: KeyRow, batch_id: str) -> BatchRow:
    batch = await in_db(request.app[GATEWAY].db.batch, batch_id)
    # Another account's batch is answered as a missing one: ids must not leak what exists.
    if batch is None or batch.account_id != key.account_id:
        raise not_found(f"Batch {batch_id!r} was not found.", param="batch_id")
    return batch


def origin(request: web.Request) -> str:
    return request.app[GATEWAY].settings.server.public_url or str(request.url.origin())


def answer(request: web.Request, body: dict) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json", "X-Request-Id": request[REQUEST_ID]},
    )


def batch_object(batch: BatchRow, origin: str) -> dict:
    """The service's `message_batch` object."""
    counts = batch.counts
    ended = batch.status == "ended"
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": batch.status,
        "request_counts": {
            "processing": counts.get("queued", 0) + counts.get("answered", 0),
            "succeeded": counts.get("succeeded", 0),
            "errored": counts.get("errored", 0),
            "canceled": counts.get("canceled", 0),
            "expired": counts.get("expired", 0),
        },
        "ended_at": _time(batch.ended_at),
        "created_at": _time(batch.created_at),
        "expires_at": _time(batch.expires_at),
        "cancel_initiated_at": _time(batch.cancel_initiated_at),
        "results_url": f"{origin.rstrip('/')}/v1/batches?batch_id={batch.id}" if ended else None,
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- checking the body ----------------------------------------------------------------------------
def _checked_requests(gw: Gateway, key: KeyRow, body: dict) -> list[tuple[str, str]]:
    """(custom_id, params JSON) of each request, once every one is known to be runnable."""
    requests = body.get("requests")
    if requests is None:
        raise bad_request(f"{BODY_VALIDATION} requests: Required", param="requests")
    if not isinstance(requests, list) or not requests:
        raise bad_request(f"{BODY_VALIDATION} requests: Expected a non-empty array", param="requests")
    check_count(gw, len(requests), "requests")
    seen: set[str] = set()
    checked = []
    for index, item in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(item, dict):
            raise bad_request(f"{BODY_VALIDATION} {where}: Expected object", param=where)
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            raise bad_request(
                f"{BODY_VALIDATION} {where}.custom_id: Expected 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
                param=f"{where}.custom_id",
            )
        if custom_id in seen:
            raise bad_request(
                f"{BODY_VALIDATION} {where}.custom_id: {custom_id!r} is used twice; each must be unique",
                param=f"{where}.custom_id",
            )
        seen.add(custom_id)
        params = item.get("params")
        if not isinstance(params, dict):
            raise bad_request(f"{BODY_VALIDATION} {where}.params: Expected object", param=f"{where}.params")
        _check_params(gw, key, params, f"{where}.params")
        checked.append((custom_id, orjson.dumps(params).decode()))
    return checked


def _check_params(gw: Gateway, key: KeyRow, params: dict, where: str) -> None:
    """What the pipeline would refuse when the request runs, refused now, naming the request."""
    if params.get("stream") not in (None, False):
        raise bad_request(
            f"{BODY_VALIDATION} {where}.stream: the requests of a batch cannot stream",
            param=f"{where}.stream",
        )
    try:
        body = chat_body(params)
    except InboundError as exc:
        param = f"{where}.{exc.param}" if exc.param else where
        raise bad_request(f"{BODY_VALIDATION} {where}.{exc}", param=param) from exc
    check_runnable(gw, body, BATCHES, where)


def check_runnable(
    gw: Gateway,
    body: dict,
    family: Family,
    where: str,
    *,
    check: Callable[[Model, dict], None] | None = None,
    param: str | None = None,
) -> None:
    """What `admit` would refuse of a request when it runs (its model, the model's rules, a price),
    refused now as a 400 naming `where`; `param`: the field to name instead of `where`'s own."""
    try:
        model = resolve_model(gw.catalog, body, accepted=family.accepted, endpoint=family.endpoint)
        if check is not None:
            check(model, body)
        validate(model, body)
        gw.tariff(model, gw.router.plan(model, 1))
    except ApiError as err:
        raise within(err, where, param) from err


def within(err: ApiError, where: str, param: str | None = None) -> ApiError:
    """An error about one request, naming the request: an unknown model is a bad request here
    (the batch is refused, not a route missing)."""
    text = err.message.removeprefix(BODY_VALIDATION).strip()
    if err.param and text.startswith(err.param):
        text = f"{where}.{text}"
    else:
        text = f"{where}.{err.param}: {text}" if err.param else f"{where}: {text}"
    status = 400 if err.status == 404 else err.status
    prefix = f"{BODY_VALIDATION} " if status == 400 else ""
    if param is None:
        param = f"{where}.{err.param}" if err.param else where
    return ApiError(status, prefix + text, code=err.code, param=param)
