"""Reading OpenAI-style SSE streams: chat-completion chunks, and Responses API events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from omnigate.providers.base import RESPONSE_TERMINAL_EVENTS, StreamBroken
from omnigate.providers.http import body_pieces, parse_event, sse_data, stream_broken
from omnigate.providers.openai_compat.errors import failed_mid_stream, upstream_message

__all__ = ["SSEChunkStream", "SSEResponseEventStream", "sse_data"]


class SSEChunkStream:
    """The chunks of one upstream streaming response; closing it drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self._response = response
        self._provider = provider
        self._finished = False

    async def __aiter__(self) -> AsyncIterator[list[dict]]:
        async for payloads in sse_data(body_pieces(self._response, self._provider)):
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
        raise stream_broken(self._provider, "closed the stream before it finished", "upstream_truncated")

    def _item(self, payload: bytes) -> dict | None:
        """The chunk a `data:` payload carries; None (and the stream finished) for [DONE]."""
        if payload == b"[DONE]":
            self._finished = True
            return None
        chunk = parse_event(payload, self._provider)
        if chunk.get("error"):
            message, _, _ = upstream_message(payload)
            raise StreamBroken(failed_mid_stream(self._provider, message))
        return chunk

    async def aclose(self) -> None:
        if not self._finished:
            # Closing the connection is how an upstream generation is cancelled.
            self._response.close()
        self._response.release()


class SSEResponseEventStream(SSEChunkStream):
    """The typed events of an upstream Responses stream, ending with its terminal event.

    An upstream `response.failed` is an event like any other (the gateway relays it); an `error`
    event, which carries no Response, breaks the stream.
    """

    def _item(self, payload: bytes) -> dict | None:
        if payload == b"[DONE]":  # not sent by OpenAI, but harmless from look-alikes
            self._finished = True
            return None
        event = parse_event(payload, self._provider)
        kind = event.get("type")
        if kind == "error":
            message = event.get("message") or "no message"
            raise StreamBroken(failed_mid_stream(self._provider, str(message)))
        if not isinstance(kind, str):
            raise stream_broken(self._provider, "sent a stream event without a type", "upstream_invalid")
        if kind in RESPONSE_TERMINAL_EVENTS:
            self._finished = True
        return event
