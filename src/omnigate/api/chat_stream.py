"""Streamed answers: the life of one (`serve_stream`), the bookkeeping of what passed through
(`StreamTally`), the usage chunk that ends a chat stream, and the relay used by routes that
translate chunks into another dialect's events."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from omnigate.api.chat_call import estimated_usage, settle_tokens
from omnigate.api.pipeline import Call
from omnigate.errors import ApiError
from omnigate.http.sse import ClientGone, open_sse, send
from omnigate.providers.base import ChunkStream, StreamBroken

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StreamTally:
    """What passed through a stream, for billing when the backend never reports usage."""

    usage: dict | None = None
    usage_chunk: dict | None = None
    last_chunk: dict | None = None
    pieces: int = 0
    chars: int = 0

    def observe(self, chunk: dict) -> bool:
        """Record one chunk; returns False for a usage-only chunk, which is held back."""
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        choices = chunk.get("choices")
        if not choices:
            if usage:
                self.usage_chunk = chunk
                return False
            return True
        self.last_chunk = chunk
        for choice in choices:
            delta = choice.get("delta") or {}
            size = len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or ():
                size += len((call.get("function") or {}).get("arguments") or "")
            if size:
                self.pieces += 1
                self.chars += size
        return True

    def completion_estimate(self) -> int:
        # Providers send about one token per delta; long deltas are counted by characters.
        return max(self.pieces, math.ceil(self.chars / 4))


def usage_chunk(tally: StreamTally, *, model: str, usage: dict, tokens_used: int) -> dict:
    """The final chunk: the backend's own usage chunk when it sent one, else one built here."""
    chunk = tally.usage_chunk
    if chunk is None:
        last = tally.last_chunk or {}
        chunk = {
            "id": last.get("id", ""),
            "object": "chat.completion.chunk",
            "created": last.get("created", 0),
            "choices": [],
        }
    chunk["model"] = model
    chunk["usage"] = usage
    chunk["meta"] = {"usage": {"tokens_used": tokens_used}}
    return chunk


async def relay_translated(
    request_id: str,
    chunks: ChunkStream,
    response: web.StreamResponse,
    feed: Callable[[dict], list],
    encode: Callable[[list], bytes],
    tally: StreamTally | None,
) -> ApiError | None:
    """Turn chunks into events with `feed` and send them as they come (the Responses and
    Anthropic Messages routes); returns the error that ended the stream early, if any. Without
    a tally the items are not chat chunks (a native Responses stream) and `feed` keeps count."""
    try:
        async for item in chunks:
            events = []
            for chunk in item if isinstance(item, list) else (item,):
                if tally is not None:
                    tally.observe(chunk)
                events += feed(chunk)
            if events:
                await send(response, encode(events))
    except StreamBroken as broken:
        return broken.error
    except ClientGone:
        raise
    except Exception:
        # The response has begun: a failure can only be told as an error event now.
        log.exception("request %s failed mid-stream", request_id)
        return ApiError(500, "Internal server error", code="internal_error")
    return None


class UsageMeter(Protocol):
    """What billing reads from a stream: the usage the backend reported, if any (and the chunk
    that carried it, where an upstream billing in credits says what it charged), and an
    estimate of the completion tokens for when it reported none."""

    usage: dict | None
    usage_chunk: dict | None

    def completion_estimate(self) -> int: ...


async def serve_stream(
    call: Call,
    stream: ChunkStream,
    meter: UsageMeter,
    headers: dict[str, str],
    relay: Callable[[web.StreamResponse], Awaitable[ApiError | None]],
    ending: Callable[[ApiError | None, dict, int], Awaitable[bytes]],
) -> web.StreamResponse:
    """The life of a streamed answer, whatever its dialect: open the event stream, `relay` the
    backend's stream (it returns the error that cut it short, if any), settle the cost, then send
    what `ending` makes of the failure or of the usage and credits charged. A client that leaves
    cancels the generation upstream and is billed for what was produced."""
    settled = False
    try:
        response = await open_sse(call.http_request, headers)
        try:
            failure = await relay(response)
        except ClientGone:
            log.info("request %s: client left mid-stream; generation cancelled", call.request_id)
            return response
        usage = meter.usage or estimated_usage(call, meter.completion_estimate())
        charged = await settle_tokens(call, usage, meter.usage_chunk)
        settled = True
        last = await ending(failure, usage, charged)
        try:
            await send(response, last)
            await response.write_eof()
        except ClientGone:
            pass
        return response
    finally:
        await stream.aclose()
        if not settled:
            # The client went away (or the handler was cancelled): bill what was produced.
            usage = meter.usage or estimated_usage(call, meter.completion_estimate())
            await settle_tokens(call, usage, meter.usage_chunk)
