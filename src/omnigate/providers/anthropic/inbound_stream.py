"""OpenAI `chat.completion.chunk`s → Anthropic's streamed events, for clients of the gateway.

`EventTranslator` is pure: fed one chunk at a time, it returns the events Anthropic would have
sent by then, in Anthropic's order: `message_start`, then per content block
`content_block_start`, its deltas and `content_block_stop`, then `message_delta` (stop reason,
usage) and `message_stop`. OpenAI interleaves nothing Anthropic could not express, except text
after a tool call (a new block) and arguments for a call after the next one began (see `_tool`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from omnigate.providers.anthropic.inbound import (
    anthropic_usage,
    matched_stop,
    message_id,
    reasoning_text,
    stop_reason,
    tool_use_id,
)


class EventTranslator:
    """The state of one streamed answer: the open content block and how the answer ended."""

    def __init__(self, *, model: str, stop_sequences: Iterable[str] = ()) -> None:
        self.model = model
        self.stop_sequences = tuple(stop_sequences)
        self.started = False
        self._index = -1  # the last block opened
        self._open: str | None = None  # the type of the block still open, if one is
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool-call index → block index
        self._finish: str | None = None
        self._matched: str | None = None

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events for one chunk (a usage-only chunk has none: usage goes out at the end)."""
        events = self._start(chunk.get("id"))
        for choice in chunk.get("choices") or ():
            # Anthropic has one answer per request; the gateway never asks for more.
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = reasoning_text(delta)
            if reasoning:
                events += self._text("thinking", reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                events += self._text("text", content)
            for call in delta.get("tool_calls") or ():
                events += self._tool(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
                self._matched = matched_stop(choice, self.stop_sequences)
        return events

    def finish(self, usage: dict[str, Any]) -> list[dict[str, Any]]:
        """The closing events, once the stream ended and its (OpenAI) usage is known."""
        events = self._start(None) + self._close()
        reason = stop_reason(self._finish, self._matched, tool_use=bool(self._tool_blocks))
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": self._matched},
                # Cumulative counts; input_tokens here corrects the 0 of message_start.
                "usage": anthropic_usage(usage),
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _start(self, upstream_id: object) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        message = {
            "id": message_id(upstream_id),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # OpenAI reports usage only at the end; message_delta carries the real counts.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def _text(self, kind: str, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._open != kind:
            events += self._close()
            block = {"type": "text", "text": ""} if kind == "text" else {**_EMPTY_THINKING}
            events.append(self._open_block(kind, block))
        delta = {"type": "text_delta", "text": text} if kind == "text" else _thinking_delta(text)
        events.append({"type": "content_block_delta", "index": self._index, "delta": delta})
        return events

    def _tool(self, call: object) -> list[dict[str, Any]]:
        if not isinstance(call, dict):
            return []
        number = call.get("index") if isinstance(call.get("index"), int) else 0
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        block = self._tool_blocks.get(number)
        if block is None:
            events += self._close()
            start = {
                "type": "tool_use",
                "id": call.get("id") or tool_use_id(),
                "name": function.get("name") or "",
                "input": {},
            }
            events.append(self._open_block("tool_use", start))
            block = self._tool_blocks[number] = self._index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # Arguments for a call whose block was already closed (a backend interleaving
            # parallel calls) still name that call's block: the SDK accumulates by index.
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append({"type": "content_block_delta", "index": block, "delta": delta})
        return events

    def _open_block(self, kind: str, block: dict[str, Any]) -> dict[str, Any]:
        self._index += 1
        self._open = kind
        return {"type": "content_block_start", "index": self._index, "content_block": block}

    def _close(self) -> list[dict[str, Any]]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._index}]


# Anthropic signs its thinking; this thinking is some other model's, so the signature is empty.
_EMPTY_THINKING = {"type": "thinking", "thinking": "", "signature": ""}


def _thinking_delta(text: str) -> dict[str, str]:
    return {"type": "thinking_delta", "thinking": text}


# The error type Anthropic gives each status; the anthropic SDK picks its exception by status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_event(status: int, message: str) -> dict[str, Any]:
    """The event that ends a stream that failed after it began (the status is gone by then)."""
    return {"type": "error", "error": {"type": error_type(status), "message": message}}


def encode(events: Iterable[dict[str, Any]]) -> bytes:
    # The anthropic SDK dispatches on the `event:` line, not on the payload's type.
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n" for event in events
    )
