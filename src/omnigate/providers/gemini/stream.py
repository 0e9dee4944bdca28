"""Gemini's `streamGenerateContent?alt=sse` events → OpenAI `chat.completion.chunk` dicts.

`StreamTranslator` is pure: it is fed each event's JSON (a partial GenerateContentResponse) and
returns the chunks OpenAI would have sent. `GeminiChunkStream` reads the events off the wire.

Gemini has no `[DONE]`: a stream is complete when every candidate it started has a finishReason
and the connection then closes. Usage comes on the events themselves; the last one counts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from omnigate.providers.base import StreamBroken, UpstreamFailure
from omnigate.providers.gemini import response as gemini
from omnigate.providers.gemini.errors import parse_error
from omnigate.providers.http import body_pieces, parse_event, sse_data, stream_broken
from omnigate.providers.openai_compat.errors import failed_mid_stream


class StreamTranslator:
    def __init__(self, model: str, *, provider: str, include_usage: bool) -> None:
        self.model = model
        self.provider = provider
        self.include_usage = include_usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._calls: dict[int, int] = {}  # candidate index → tool calls sent so far
        self._usage: dict[str, Any] | None = None

    def feed(self, event: dict) -> list[dict]:
        if "error" in event:
            raise StreamBroken(failed_mid_stream(self.provider, parse_error(event).message))
        if not self._started:
            # Until a chunk went out the id may still follow Google's, as complete() answers do.
            self.id = gemini.completion_id(event)
        if isinstance(event.get("usageMetadata"), dict):
            self._usage = event["usageMetadata"]
        out: list[dict] = []
        candidates = [c for c in event.get("candidates") or () if isinstance(c, dict)]
        if not candidates:
            if gemini.blocked(event) and 0 not in self._finished:
                out += self._start(0)
                out.append(self._chunk(0, {}, "content_filter"))
                self._finished.add(0)
            return out
        for position, candidate in enumerate(candidates):
            index = candidate.get("index")
            index = index if isinstance(index, int) else position
            if index in self._finished:
                continue
            out += self._start(index)
            for part in (candidate.get("content") or {}).get("parts") or ():
                delta = self._delta(index, part)
                if delta:
                    out.append(self._chunk(index, delta))
            reason = candidate.get("finishReason")
            if reason:
                called = self._calls.get(index, 0) > 0
                out.append(self._chunk(index, {}, gemini.finish_reason(reason, called=called)))
                self._finished.add(index)
        return out

    def finish(self) -> list[dict]:
        """The chunks that follow the upstream's last event; raises if the stream was cut short."""
        if not self._finished or self._started - self._finished:
            raise stream_broken(self.provider, "closed the stream before it finished", "upstream_truncated")
        counted = gemini.usage(self._usage)
        if not self.include_usage or counted is None:
            return []
        last = self._base()
        last["choices"] = []
        last["usage"] = counted
        return [last]

    def _start(self, index: int) -> list[dict]:
        if index in self._started:
            return []
        self._started.add(index)
        return [self._chunk(index, {"role": "assistant", "content": ""})]

    def _delta(self, index: int, part: object) -> dict[str, Any] | None:
        kind = gemini.part_kind(part)
        assert kind is None or isinstance(part, dict)
        if kind == "call":
            number = self._calls.get(index, 0)
            self._calls[index] = number + 1
            return {"tool_calls": [gemini.tool_call(part, number)]}
        if kind in ("thought", "text") and part["text"]:
            return {"reasoning_content" if kind == "thought" else "content": part["text"]}
        return None

    def _base(self) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.include_usage:
            # As OpenAI does: "usage": null on every chunk but the extra last one.
            chunk["usage"] = None
        return chunk

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk = self._base()
        chunk["choices"] = [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return chunk


class GeminiChunkStream:
    """The chunks of one upstream streaming response, a list per network read (the gateway writes
    each list in one go); closing it drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, translator: StreamTranslator) -> None:
        self._response = response
        self._translator = translator
        self._reads = sse_data(body_pieces(response, translator.provider))
        self._pending: list[dict] = []
        self._ended = False

    async def prime(self) -> None:
        """Read until the first chunk exists, so that a stream failing before it (an error event,
        an empty body) is an UpstreamFailure the router can retry elsewhere."""
        try:
            while not self._pending and not self._ended:
                self._pending = await self._pull()
        except StreamBroken as broken:
            await self.aclose()
            raise UpstreamFailure(broken.error, retryable=True) from broken

    async def __aiter__(self) -> AsyncIterator[list[dict]]:
        while True:
            pending, self._pending = self._pending, []
            if pending:
                yield pending
            if self._ended:
                return
            self._pending = await self._pull()

    async def aclose(self) -> None:
        if not self._ended:
            # Closing the connection is how an upstream generation is cancelled.
            self._response.close()
        await self._reads.aclose()
        self._response.release()

    async def _pull(self) -> list[dict]:
        """The chunks of the next network read (at the end: the translator's closing chunks)."""
        try:
            payloads = await anext(self._reads)
        except StopAsyncIteration:
            self._ended = True
            return self._translator.finish()
        chunks: list[dict] = []
        for payload in payloads:
            chunks += self._translator.feed(parse_event(payload, self._translator.provider))
        return chunks
