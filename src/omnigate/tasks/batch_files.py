"""The files an OpenAI batch ends with, written by the runner once all its requests have ended:
the output file (purpose `batch_output`: one line per request that succeeded) and, when any
request did not, the error file (one line per request that failed, was cancelled or expired), in
the order of the input file, each an upload of the batch's account.

Their ids, and the ids of their lines, derive from the batch's id, and the store writes them with
the batch's `finalized_at` in one transaction (store/openai_batches.py): whichever runner gets
there first writes them, whole; any other (two finishing at once, or one that takes over from a
dead one) finds the batch finalized and writes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Any

import orjson

from omnigate.store.openai_batches import Outcome
from omnigate.store.timestamps import now
from omnigate.store.uploads import UploadRow

if TYPE_CHECKING:
    from omnigate.gateway import Gateway

log = logging.getLogger(__name__)
# A request that never ran, as OpenAI's error files give it.
UNRUN = {
    "canceled": ("batch_cancelled", "The batch was cancelled before this request ran."),
    "expired": ("batch_expired", "The batch expired before this request ran."),
}


def derived_id(prefix: str, *parts: object) -> str:
    """An id that is the same every time it is derived from the same parts."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return prefix + digest[:24]


def output_file_id(batch_id: str) -> str:
    return derived_id("file-", batch_id, "output")


def error_file_id(batch_id: str) -> str:
    return derived_id("file-", batch_id, "error")


def line(batch_id: str, outcome: Outcome) -> dict[str, Any]:
    """The output or error file's line of one request."""
    head = {"id": derived_id("batch_req_", batch_id, outcome.idx), "custom_id": outcome.custom_id}
    if outcome.status in UNRUN or outcome.result is None:
        code, message = UNRUN.get(outcome.status, ("batch_failed", "The request did not run."))
        return {**head, "response": None, "error": {"code": code, "message": message}}
    return {**head, **orjson.loads(outcome.result)}


async def finalize(gw: Gateway, batch_id: str) -> bool:
    """Write the files of an OpenAI batch that has ended; False when there is nothing to do (it
    runs still, or its files are written already)."""
    batch = await asyncio.to_thread(gw.db.batch, batch_id)
    if batch is None or not batch.is_openai or batch.status != "ended" or batch.finalized_at is not None:
        return False
    outcomes = await asyncio.to_thread(gw.db.batch_outcomes, batch_id)
    lines = [(o.status == "succeeded", line(batch_id, o)) for o in outcomes]
    good = b"".join(orjson.dumps(body) + b"\n" for ok, body in lines if ok)
    bad = b"".join(orjson.dumps(body) + b"\n" for ok, body in lines if not ok)
    output = (_file(output_file_id(batch_id), batch.account_id, f"{batch_id}_output.jsonl", good), good)
    errors = None
    if bad:
        errors = (_file(error_file_id(batch_id), batch.account_id, f"{batch_id}_error.jsonl", bad), bad)
    written = await asyncio.to_thread(gw.db.finalize_batch, batch_id, output=output, errors=errors)
    if written:
        log.info("batch %s: wrote its output file%s", batch_id, " and its error file" if bad else "")
    return written


def _file(file_id: str, account_id: int, filename: str, content: bytes) -> UploadRow:
    return UploadRow(
        id=file_id,
        account_id=account_id,
        filename=filename,
        purpose="batch_output",
        bytes=len(content),
        content_type="application/jsonl",
        created_at=now(),
    )
