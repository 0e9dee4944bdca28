"""Relaying an OpenAI-style SSE stream: read `data:` events, keep count, end it properly.

The upstream's chunks go to the client as they come, with only `model` set to the catalogue id.
The gateway always asks the upstream for usage; the final usage chunk (`choices: []`) is held back,
given `meta.usage.tokens_used`, and sent just before `data: [DONE]`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class StreamTally:
    """What passed through a stream, for billing when the upstream never reports usage."""

    usage: dict | None = None
    usage_chunk: dict | None = None
    last_chunk: dict | None = None
    pieces: int = 0
    chars: int = 0
    finished: bool = False  # the upstream sent [DONE]
    error: dict | None = None

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
            text = delta.get("content") or ""
            reasoning = delta.get("reasoning_content") or ""
            args = "".join(
                (call.get("function") or {}).get("arguments") or "" for call in delta.get("tool_calls") or ()
            )
            size = len(text) + len(reasoning) + len(args)
            if size:
                self.pieces += 1
                self.chars += size
        return True

    def completion_estimate(self) -> int:
        # Providers send about one token per delta; long deltas are counted by characters.
        return max(self.pieces, math.ceil(self.chars / 4))


async def sse_data(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The payloads of the `data:` fields of an SSE byte stream, however the bytes are split.

    Splits lines itself rather than using aiohttp's readline, which refuses lines over 128 KiB
    (a tool call's arguments or an inline image can be longer).
    """
    buffer = b""
    async for piece in pieces:
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            if line.startswith(b"data:"):
                yield line[5:].strip()
        buffer = buffer[start:]
    if buffer.startswith(b"data:"):
        yield buffer[5:].strip()


def encode_event(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def usage_chunk(tally: StreamTally, *, model: str, usage: dict, tokens_used: int) -> dict:
    """The final chunk: the upstream's own usage chunk when it sent one, else one built here."""
    chunk = tally.usage_chunk
    if chunk is None:
        last = tally.last_chunk or {}
        chunk = {
            "id": last.get("id", ""),
            "object": "chat.completion.chunk",
            "created": last.get("created", 0),
            "model": model,
            "choices": [],
        }
    chunk["model"] = model
    chunk["usage"] = usage
    chunk["meta"] = {"usage": {"tokens_used": tokens_used}}
    return chunk
