"""What one model call of a run gave, assembled from its stream; and the file_search hits a run
keeps between its turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnigate.assistants import objects
from omnigate.billing.pricing import Used
from omnigate.errors import ApiError


@dataclass
class Answer:
    """What one model call gave: text, tool calls (assembled from their deltas), why it ended."""

    text: str = ""
    tool_parts: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish: str | None = None
    usage: Used = field(default_factory=lambda: Used(0, 0))
    failure: ApiError | None = None

    def add_tool_delta(self, part: dict[str, Any]) -> None:
        slot = self.tool_parts.setdefault(part.get("index", 0), {"id": None, "name": "", "arguments": ""})
        if part.get("id"):
            slot["id"] = part["id"]
        function = part.get("function") or {}
        slot["name"] += function.get("name") or ""
        slot["arguments"] += function.get("arguments") or ""

    def step_usage(self) -> dict[str, int]:
        return objects.usage(self.usage.prompt_tokens, self.usage.completion_tokens)

    @property
    def tool_calls(self) -> bool:
        return bool(self.tool_parts)

    def calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": slot["id"] or objects.new_id("call"),
                "type": "function",
                "function": {"name": slot["name"], "arguments": slot["arguments"]},
            }
            for _, slot in sorted(self.tool_parts.items())
        ]


@dataclass(frozen=True)
class Hit:
    """A file_search result as a run keeps it (knowledge.search.Hit's fields)."""

    file_id: str
    filename: str
    text: str
    score: float
