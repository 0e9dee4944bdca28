"""Bookkeeping for a relayed chat stream: what passed through, and the usage chunk that ends it."""

from __future__ import annotations

import math
from dataclasses import dataclass


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
