"""Server-sent events towards the client: opening the stream and writing to it safely."""

from __future__ import annotations

import orjson
from aiohttp import web

from omnigate.telemetry.record import RequestRecord, current

# Where a stream keeps the record of its request, for send() to mark the first byte of the body.
_RECORD = web.ResponseKey("record", RequestRecord)

DONE = b"data: [DONE]\n\n"


class ClientGone(Exception):
    """The client closed the connection while we were still streaming to it."""


async def open_sse(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            # Reverse proxies such as nginx would otherwise buffer the whole stream.
            "X-Accel-Buffering": "no",
            **headers,
        }
    )
    record = current(request)
    if record is not None:
        record.stream = True
        response[_RECORD] = record
    await response.prepare(request)
    return response


async def send(response: web.StreamResponse, data: bytes) -> None:
    record = response.get(_RECORD)
    if record is not None and record.ttft_ms is None:
        record.mark_first_byte()
    try:
        await response.write(data)
    except (ConnectionError, RuntimeError) as exc:
        # aiohttp raises a ConnectionResetError subclass, or RuntimeError once the payload is closed.
        raise ClientGone from exc


def encode_event(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"
