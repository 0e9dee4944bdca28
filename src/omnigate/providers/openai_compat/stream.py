"""Reading OpenAI-style SSE streams: chat-completion chunks, and Responses API events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson

from omnigate.errors import ApiError
from omnigate.providers.base import RESPONSE_TERMINAL_EVENTS, StreamBroken
from omnigate.providers.http import sse_data
from omnigate.providers.openai_compat.errors import upstream_message

__all__ = ["SSEChunkStream", "SSEResponseEventStream", "sse_data"]


class SSEChunkStream:
    """The chunks of one upstream streaming response; closing it drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self._response = response
        self._provider = provider
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[list[dict]]:
        try:
            async for payloads in sse_data(self._response.content.iter_any()):
                batch = []
                for payload in payloads:
                    try:
                        item = self._item(payload)
                    except StreamBroken:
                        if batch:  # what came before the failure in the same read still counts
                            yield batch
                        raise
                    if item is not None:
                        batch.append(item)
                    if self._finished:
                        break
                if batch:
                    yield batch
                if self._finished:
                    return
        except TimeoutError as exc:
            raise StreamBroken(
                ApiError(504, "Generation timeout: the upstream stopped sending.", code="upstream_timeout")
            ) from exc
        except aiohttp.ClientError as exc:
            raise StreamBroken(self._error(502, f"stream broke ({exc})", "upstream_broken")) from exc
        raise StreamBroken(self._error(502, "closed the stream before it finished", "upstream_truncated"))

    def _item(self, payload: bytes) -> dict | None:
        """The chunk a `data:` payload carries; None (and the stream finished) for [DONE]."""
        if payload == b"[DONE]":
            self._finished = True
            return None
        chunk = self._parse(payload)
        if chunk.get("error"):
            message, _, _ = upstream_message(payload)
            raise StreamBroken(self._error(502, f"failed mid-stream: {message}", "upstream_error"))
        return chunk

    def _parse(self, payload: bytes) -> dict:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            raise StreamBroken(self._error(502, "sent an invalid stream event", "upstream_invalid"))
        return chunk

    async def aclose(self) -> None:
        if not self._finished:
            # Closing the connection is how an upstream generation is cancelled.
            self._response.close()
        self._response.release()

    def _error(self, status: int, what: str, code: str) -> ApiError:
        return ApiError(status, f"Bad Gateway: provider {self._provider!r} {what}.", code=code)


class SSEResponseEventStream(SSEChunkStream):
    """The typed events of an upstream Responses stream, ending with its terminal event.

    An upstream `response.failed` is an event like any other (the gateway relays it); an `error`
    event, which carries no Response, breaks the stream.
    """

    def _item(self, payload: bytes) -> dict | None:
        if payload == b"[DONE]":  # not sent by OpenAI, but harmless from look-alikes
            self._finished = True
            return None
        event = self._parse(payload)
        kind = event.get("type")
        if kind == "error":
            message = event.get("message") or "no message"
            raise StreamBroken(self._error(502, f"failed mid-stream: {message}", "upstream_error"))
        if not isinstance(kind, str):
            raise StreamBroken(self._error(502, "sent a stream event without a type", "upstream_invalid"))
        if kind in RESPONSE_TERMINAL_EVENTS:
            self._finished = True
        return event
