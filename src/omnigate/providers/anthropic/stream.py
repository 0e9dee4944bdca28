"""Anthropic's streamed events → OpenAI `chat.completion.chunk` dicts.

`StreamTranslator` is pure: fed one decoded event at a time, it returns the chunks OpenAI would
have sent by then. `AnthropicChunkStream` reads the events off an upstream response.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from omnigate.providers.anthropic import errors
from omnigate.providers.anthropic.response import finish_reason, openai_usage
from omnigate.providers.base import StreamBroken
from omnigate.providers.http import body_pieces, parse_event, stream_broken


class StreamTranslator:
    """The state of one streamed answer: which content block is which, and the usage so far."""

    def __init__(self, provider: str, *, include_usage: bool, created: int | None = None) -> None:
        self.provider = provider
        self.include_usage = include_usage
        self.created = created if created is not None else int(time.time())
        self.finished = False
        self._id = ""
        self._model = ""
        self._usage: dict[str, Any] = {}
        # Anthropic numbers content blocks; OpenAI numbers tool calls: block index → call index.
        self._tool_index: dict[int, int] = {}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks for one event; raises StreamBroken for an `error` event."""
        kind = event.get("type")
        if kind == "message_start":
            return self._start(event.get("message") or {})
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._block_delta(event)
        if kind == "message_delta":
            self._add_usage(event.get("usage"))
            reason = finish_reason((event.get("delta") or {}).get("stop_reason"))
            return [self._chunk({}, reason)]
        if kind == "message_stop":
            self.finished = True
            if not self.include_usage:
                return []
            last = self._chunk({})
            last["choices"] = []
            last["usage"] = openai_usage(self._usage)
            return [last]
        if kind == "error":
            raise StreamBroken(errors.mid_stream(self.provider, orjson.dumps(event)))
        # ping, content_block_stop, and event types Anthropic may add later carry nothing for
        # an OpenAI client (Anthropic's versioning policy says clients must ignore new ones).
        return []

    def _start(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        self._id = str(message.get("id") or "")
        self._model = str(message.get("model") or "")
        self._add_usage(message.get("usage"))
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            number = len(self._tool_index)
            self._tool_index[_index(event)] = number
            call = {
                "index": number,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        # Text and thinking blocks start empty in practice; relay any text they open with.
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning_content": block["thinking"]})]
        return []

    def _block_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            number = self._tool_index.get(_index(event))
            if number is None:
                # Arguments of a block that was not a function call (a server tool's input).
                return []
            call = {"index": number, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        # signature_delta (proof of the thinking, which OpenAI clients cannot send back) and
        # citations_delta have no place in a chunk.
        return []

    def _add_usage(self, usage: object) -> None:
        # message_delta repeats the counts so far (cumulative, not increments): the latest wins.
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            # As OpenAI does: "usage": null on every chunk but the last one.
            chunk["usage"] = None
        return chunk


def _index(event: dict[str, Any]) -> int:
    index = event.get("index")
    return index if isinstance(index, int) else -1


async def sse_payloads(pieces: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The data of each complete SSE event, grouped by network read.

    Splits lines itself rather than using aiohttp's readline, which refuses lines over 128 KiB
    (a tool call's input can be longer). Only `data:` fields matter: Anthropic repeats the
    `event:` name as the payload's "type". An event cut off by the end of the stream is dropped,
    as the SSE spec says.
    """
    buffer = b""
    data: list[bytes] = []
    async for piece in pieces:
        buffer += piece
        start = 0
        found = []
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end].rstrip(b"\r")
            start = end + 1
            if not line:
                if data:
                    found.append(b"\n".join(data))
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
        buffer = buffer[start:]
        if found:
            yield found


class AnthropicChunkStream:
    """The chunks of one upstream streaming response; closing it drops the connection.

    Yields the chunks of each network read as one list, so the gateway writes them together.
    """

    def __init__(self, response: aiohttp.ClientResponse, provider: str, *, include_usage: bool) -> None:
        self._response = response
        self._provider = provider
        self._translator = StreamTranslator(provider, include_usage=include_usage)

    async def __aiter__(self) -> AsyncIterator[list[dict[str, Any]]]:
        async for payloads in sse_payloads(body_pieces(self._response, self._provider)):
            batch: list[dict[str, Any]] = []
            for payload in payloads:
                batch.extend(self._translator.feed(parse_event(payload, self._provider)))
                if self._translator.finished:
                    break
            if batch:
                yield batch
            if self._translator.finished:
                return
        raise stream_broken(self._provider, "closed the stream before it finished", "upstream_truncated")

    async def aclose(self) -> None:
        if not self._translator.finished:
            # Closing the connection is how an upstream generation is cancelled.
            self._response.close()
        self._response.release()
