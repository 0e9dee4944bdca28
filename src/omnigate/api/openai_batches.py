"""The /v1/batches routes, for both kinds of batch: the service's message batches (Anthropic's
shape, api/batches.py) and OpenAI's file-based ones, served here.

    POST /v1/batches                     {requests}: a message batch;
                                         {input_file_id, endpoint, completion_window, metadata?}:
                                         an OpenAI batch (both at once: a 400)
    GET  /v1/batches                     the account's OpenAI batches (limit 1-100, after)
    GET  /v1/batches?batch_id=ID         a message batch (its results once ended); an OpenAI batch
    GET  /v1/batches/{batch_id}          the batch, as its kind shows it
    POST /v1/batches/{batch_id}/cancel   OpenAI's route to cancel; and the service's
    POST /v1/batches/cancel/{batch_id}   either kind; 400 once the batch has ended

An OpenAI batch reads its requests from a file the account uploaded (purpose `batch`, JSONL,
api/batch_file.py); its lines call /v1/chat/completions or /v1/embeddings. It is stored as a
message batch is, run by the same runner, each request charged once; once all have ended, the
runner writes its output and error files (tasks/batch_files.py), read with /v1/files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from omnigate.api import batches
from omnigate.api.batch_file import checked_lines
from omnigate.api.batch_kinds import OPENAI_KINDS
from omnigate.api.common import in_db, read_json
from omnigate.api.files import find_upload
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.scopes import require_scope
from omnigate.store.batch_rows import BatchRow
from omnigate.store.rows import KeyRow
from omnigate.store.timestamps import now
from omnigate.tasks.batch_files import finalize

COMPLETION_WINDOWS = ("24h",)
# OpenAI's bounds on `metadata`: 16 pairs, keys of 64 characters, values of 512.
METADATA_PAIRS, METADATA_KEY, METADATA_VALUE = 16, 64, 512
LIST_LIMIT = (1, 100, 20)  # least, most, default


async def create_batch(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    body, raw = await read_json(request)
    if "input_file_id" not in body:
        return await batches.create_message_batch(request, gw, key, body, raw)
    if "requests" in body:
        raise bad_request(
            f"{BODY_VALIDATION} input_file_id: send either requests (a message batch) or "
            "input_file_id (an OpenAI batch), not both",
            param="input_file_id",
        )
    endpoint = body.get("endpoint")
    if endpoint not in OPENAI_KINDS:
        raise bad_request(
            f"{BODY_VALIDATION} endpoint: must be one of {', '.join(OPENAI_KINDS)}", param="endpoint"
        )
    kind = OPENAI_KINDS[endpoint]
    require_scope(key, kind.family.endpoint)
    if body.get("completion_window") not in COMPLETION_WINDOWS:
        raise bad_request(
            f"{BODY_VALIDATION} completion_window: must be {' or '.join(COMPLETION_WINDOWS)}",
            param="completion_window",
        )
    metadata = _metadata(body.get("metadata"))
    file_id = body["input_file_id"]
    if not isinstance(file_id, str) or not file_id:
        raise bad_request(f"{BODY_VALIDATION} input_file_id: Expected a file id", param="input_file_id")
    upload = await find_upload(gw, key, file_id, param="input_file_id")
    if upload.purpose != "batch":
        raise bad_request(
            f"{BODY_VALIDATION} input_file_id: {file_id} was uploaded for {upload.purpose!r}; a batch "
            "reads a file uploaded with purpose 'batch'",
            param="input_file_id",
        )
    batches.check_size(gw, upload.bytes, "input_file_id")
    try:
        content = await in_db(gw.db.upload_content, file_id)
    except KeyError:  # deleted since
        raise bad_request(f"No such file: {file_id!r}.", param="input_file_id") from None
    requests = checked_lines(gw, content, endpoint, kind)
    batch_id = "batch_" + batches.new_id()
    await in_db(
        gw.db.insert_batch,
        batch_id=batch_id,
        account_id=key.account_id,
        key_prefix=key.prefix,
        request_id=request[REQUEST_ID],
        expires_at=now() + timedelta(seconds=gw.settings.batches.expires_s),
        requests=requests,
        openai={
            "endpoint": endpoint,
            "input_file_id": file_id,
            "completion_window": body["completion_window"],
            "metadata": orjson.dumps(metadata).decode() if metadata is not None else None,
        },
    )
    gw.runner.nudge()
    return batches.answer(request, openai_object(await batches.owned(request, key, batch_id)))


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > METADATA_PAIRS
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= METADATA_KEY and len(v) <= METADATA_VALUE
            for k, v in value.items()
        )
    ):
        raise bad_request(
            f"{BODY_VALIDATION} metadata: Expected at most {METADATA_PAIRS} pairs of strings, keys of "
            f"at most {METADATA_KEY} characters and values of at most {METADATA_VALUE}",
            param="metadata",
        )
    return {k.replace("\x00", ""): v.replace("\x00", "") for k, v in value.items()}


async def list_or_results(request: web.Request) -> web.Response:
    """GET /v1/batches: with batch_id, that batch (a message batch's results once ended); without,
    the page of the account's OpenAI batches."""
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    batch_id = request.query.get("batch_id")
    if batch_id:
        batch = await batches.owned(request, key, batch_id)
        if batch.is_openai:
            return batches.answer(request, openai_object(batch))
        return await batches.message_results(request, batch)
    return await _page(request, gw, key)


async def _page(request: web.Request, gw: Gateway, key: KeyRow) -> web.Response:
    least, most, default = LIST_LIMIT
    try:
        limit = int(request.query.get("limit", default))
    except ValueError:
        limit = 0
    if not least <= limit <= most:
        raise bad_request(f"limit: must be an integer from {least} to {most}", param="limit")
    rows = await in_db(
        gw.db.openai_batches, key.account_id, limit=limit + 1, after=request.query.get("after") or None
    )
    page = [openai_object(r) for r in rows[:limit]]
    return batches.answer(
        request,
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(rows) > limit,
        },
    )


async def retrieve(request: web.Request) -> web.Response:
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    return _view(request, await batches.owned(request, key, request.match_info["batch_id"]))


async def cancel(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    batch = await batches.owned(request, key, request.match_info["batch_id"])
    batch = await batches.cancel_owned(request, batch)
    if batch.is_openai and batch.status == "ended":
        # Nothing was left running: its files now, rather than at the runner's next round.
        await finalize(gw, batch.id)
        batch = await batches.owned(request, key, batch.id)
    return _view(request, batch)


def _view(request: web.Request, batch: BatchRow) -> web.Response:
    if batch.is_openai:
        return batches.answer(request, openai_object(batch))
    return batches.answer(request, batches.batch_object(batch, batches.origin(request)))


# -- OpenAI's Batch object ------------------------------------------------------------------------
def openai_status(batch: BatchRow) -> str:
    """OpenAI's status of a batch: `validating` and `failed` never show, a file that does not
    validate is refused at creation."""
    cancelled = batch.cancel_initiated_at is not None
    if batch.status == "in_progress":
        return "in_progress"
    if batch.status == "canceling" or (cancelled and batch.finalized_at is None):
        return "cancelling"
    if batch.finalized_at is None:
        return "finalizing"  # every request ended; its files are being written
    if cancelled:
        return "cancelled"
    return "expired" if batch.counts.get("expired") else "completed"


def openai_object(batch: BatchRow) -> dict[str, Any]:
    """The `Batch` object; what is not known yet (or never will be) is left out, as the spec's
    non-nullable optional fields must be."""
    counts = batch.counts
    status = openai_status(batch)
    finished = batch.finalized_at if status in ("completed", "cancelled", "expired") else None
    view: dict[str, Any] = {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "created_at": _unix(batch.created_at),
        "in_progress_at": _unix(batch.created_at),  # checked at creation, queued at once
        "expires_at": _unix(batch.expires_at),
        "finalizing_at": _unix(batch.ended_at) if batch.cancel_initiated_at is None else None,
        "completed_at": _unix(finished) if status == "completed" else None,
        "expired_at": _unix(finished) if status == "expired" else None,
        "cancelling_at": _unix(batch.cancel_initiated_at),
        "cancelled_at": _unix(finished) if status == "cancelled" else None,
        "request_counts": {
            "total": sum(counts.values()),
            "completed": counts.get("succeeded", 0),
            # In the error file: those that failed, and those a cancel or the expiry left unrun.
            "failed": sum(counts.get(s, 0) for s in ("errored", "canceled", "expired")),
        },
    }
    view = {k: v for k, v in view.items() if v is not None}
    view["metadata"] = batch.metadata  # the spec's Metadata may be null
    return view


def _unix(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None
