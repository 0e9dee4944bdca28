"""Per-provider rewrites of an OpenAI chat body, for servers that speak the protocol with an accent.

- `max_tokens_field`: the one name the provider accepts for the output budget (OpenAI's reasoning
  models want `max_completion_tokens`; many compatible servers only know `max_tokens`);
- `system_as_user`: the model refuses the system role, so system text leads the first user turn;
- `drop`: parameters the provider rejects rather than ignores.
"""

from __future__ import annotations

from typing import Any


def apply_quirks(body: dict, quirks: dict[str, Any]) -> dict:
    field = quirks.get("max_tokens_field")
    if field:
        other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
        if other in body:
            value = body.pop(other)
            body.setdefault(field, value)
    for name in quirks.get("drop", ()):
        body.pop(name, None)
    if quirks.get("system_as_user"):
        body["messages"] = _system_into_user(body["messages"])
    return body


def _system_into_user(messages: list[dict]) -> list[dict]:
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    rest = [m for m in messages if m.get("role") not in ("system", "developer")]
    if not system:
        return messages
    text = "\n\n".join(_text(m.get("content")) for m in system)
    for i, message in enumerate(rest):
        if message.get("role") == "user":
            merged = dict(message)
            content = merged.get("content")
            if isinstance(content, list):
                merged["content"] = [{"type": "text", "text": text}, *content]
            else:
                merged["content"] = f"{text}\n\n{_text(content)}"
            return [*rest[:i], merged, *rest[i + 1 :]]
    return [{"role": "user", "content": text}, *rest]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""
