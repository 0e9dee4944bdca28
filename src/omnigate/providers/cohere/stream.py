"""Cohere v2 chat stream events → OpenAI `chat.completion.chunk` dicts.

`ChunkTranslator` is pure (fed parsed events, returns chunks); `CohereChunkStream` reads the
upstream's SSE bytes and feeds it. Cohere sends `event: <type>` + `data: <json>` pairs and the
JSON repeats the type, so the JSON's `type` is read first and the event name is the fallback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from omnigate.providers.base import StreamBroken
from omnigate.providers.cohere.response import as_object, finish_reason, to_usage
from omnigate.providers.http import body_pieces, sse_events, stream_broken
from omnigate.providers.openai_compat.errors import failed_mid_stream

log = logging.getLogger(__name__)

# Events that carry nothing an OpenAI client can read (citations point into documents the
# adapter never sends; debug holds the raw prompt).
_IGNORED = frozenset({"content-end", "tool-call-end", "citation-start", "citation-end", "debug"})


class ChunkTranslator:
    """The state of one stream's translation: which chunks each Cohere event becomes."""

    def __init__(self, provider: str, *, model: str, created: int, include_usage: bool) -> None:
        self.provider = provider
        self.model = model
        self.created = created
        self.include_usage = include_usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.finished = False
        self._started = False
        # Cohere's tool-call indexes → OpenAI's, which must count 0, 1, ... in order of calls.
        self._tool_indexes: dict[Any, int] = {}

    def feed(self, event: Any, name: str = "") -> list[dict]:
        """The chunks for one parsed event (often none); raises StreamBroken on a bad one."""
        if not isinstance(event, dict):
            raise self.broken("sent an invalid stream event", "upstream_invalid")
        kind = event.get("type") or name
        if self.finished:
            return []
        if kind == "message-start":
            if isinstance(event.get("id"), str) and event["id"]:
                self.id = event["id"]
            return self._start()
        if kind in ("content-start", "content-delta"):
            return self._content(event, kind)
        if kind == "tool-plan-delta":
            plan = _dig(event, "delta", "message").get("tool_plan")
            return self._delta({"content": self._string(plan, kind)}) if plan else []
        if kind == "tool-call-start":
            return self._tool_call_start(event)
        if kind == "tool-call-delta":
            return self._tool_call_delta(event)
        if kind == "message-end":
            return self._end(event)
        if kind in _IGNORED:
            return []
        if kind == "error" or (not kind and ("message" in event or "error" in event)):
            raise StreamBroken(failed_mid_stream(self.provider, _error_text(event)))
        # An event type newer than this adapter: skipping it keeps the answer flowing.
        log.debug("cohere stream from %r: ignoring event %r", self.provider, kind)
        return []

    # -- events ---------------------------------------------------------------------------

    def _start(self) -> list[dict]:
        if self._started:
            return []
        self._started = True
        # OpenAI's first chunk names the role and an empty content, whatever follows.
        return [self._chunk({"role": "assistant", "content": ""})]

    def _content(self, event: dict, kind: str) -> list[dict]:
        content = _dig(event, "delta", "message", "content")
        delta: dict[str, Any] = {}
        if content.get("text"):
            delta["content"] = self._string(content["text"], kind)
        if content.get("thinking"):
            delta["reasoning_content"] = self._string(content["thinking"], kind)
        return self._delta(delta) if delta else []

    def _tool_call_start(self, event: dict) -> list[dict]:
        call = _dig(event, "delta", "message", "tool_calls")
        function = as_object(call.get("function"))
        call_id = call.get("id")
        name = function.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise self.broken("sent a tool-call-start event without an id or name", "upstream_invalid")
        index = self._tool_indexes.setdefault(event.get("index"), len(self._tool_indexes))
        arguments = function.get("arguments") or ""
        entry = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": self._string(arguments, "tool-call-start")},
        }
        return self._delta({"tool_calls": [entry]})

    def _tool_call_delta(self, event: dict) -> list[dict]:
        function = _dig(event, "delta", "message", "tool_calls", "function")
        arguments = function.get("arguments")
        if not arguments:
            return []
        index = self._tool_indexes.get(event.get("index"))
        if index is None:
            raise self.broken("sent tool-call arguments before the call started", "upstream_invalid")
        entry = {"index": index, "function": {"arguments": self._string(arguments, "tool-call-delta")}}
        return self._delta({"tool_calls": [entry]})

    def _end(self, event: dict) -> list[dict]:
        delta = _dig(event, "delta")
        if delta.get("error"):
            raise StreamBroken(failed_mid_stream(self.provider, str(delta["error"])))
        self.finished = True
        chunks = self._start()
        chunks.append(self._chunk({}, finish_reason(delta.get("finish_reason"), self.id)))
        usage = to_usage(delta.get("usage"))
        if self.include_usage and usage is not None:
            last = self._chunk({})
            last["choices"] = []
            last["usage"] = usage
            chunks.append(last)
        return chunks

    # -- chunks ---------------------------------------------------------------------------

    def _delta(self, delta: dict) -> list[dict]:
        # A stream that skips message-start still opens with the role chunk.
        return [*self._start(), self._chunk(delta)]

    def _chunk(self, delta: dict, finish: str | None = None) -> dict:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            # As OpenAI does: "usage": null on every chunk but the extra last one.
            chunk["usage"] = None
        return chunk

    def _string(self, value: Any, kind: str) -> str:
        if not isinstance(value, str):
            raise self.broken(f"sent an invalid {kind} event", "upstream_invalid")
        return value

    def broken(self, what: str, code: str) -> StreamBroken:
        return stream_broken(self.provider, what, code)


def _dig(event: dict, *keys: str) -> dict:
    """The object at a path of keys, or {} where the path is missing or not an object."""
    value: dict = event
    for key in keys:
        value = as_object(value.get(key))
    return value


def _error_text(event: dict) -> str:
    for value in (event.get("message"), event.get("error")):
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and value.get("message"):
            return str(value["message"])
    return "an error event"


class CohereChunkStream:
    """The OpenAI chunks of one upstream streaming response; closing it drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, translator: ChunkTranslator) -> None:
        self._response = response
        self._translator = translator

    async def __aiter__(self) -> AsyncIterator[dict]:
        translator = self._translator
        async for name, payload in sse_events(body_pieces(self._response, translator.provider)):
            if payload == b"[DONE]":
                break
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                event = None
            for chunk in translator.feed(event, name):
                yield chunk
        if not translator.finished:
            raise translator.broken("closed the stream before it finished", "upstream_truncated")

    async def aclose(self) -> None:
        if not self._translator.finished:
            # Closing the connection is how an upstream generation is cancelled.
            self._response.close()
        self._response.release()
