"""Responses input items: normalised once on arrival, then turned into chat messages.

Items are stored in their normalised form (typed, with ids, content as parts), so that a
stored turn, a new turn and `GET /v1/responses/{id}/input_items` all read the same shape.
"""

from __future__ import annotations

import secrets
from typing import Any

_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}
_ROLES = ("user", "system", "developer", "assistant")
_TEXT_PARTS = ("input_text", "output_text")


class TranslationError(ValueError):
    """A Responses request that cannot be expressed as a chat request."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def normalise_input(value: object) -> list[dict[str, Any]]:
    """The request's `input` as a list of typed items, each with an id."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise TranslationError("input: Expected a string or a non-empty array of items", "input")
    return [_normalise_item(item, f"input[{i}]") for i, item in enumerate(value)]


def _normalise_item(item: object, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise TranslationError(f"{where}: Expected an object", "input")
    # EasyInputMessage items carry a role and no type.
    kind = item.get("type") or ("message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise TranslationError(f"{where}.role: Expected one of {', '.join(_ROLES)}", "input")
        out = {**item, "type": "message", "content": _parts(item.get("content"), role, where)}
        out.setdefault("status", "completed")
    elif kind == "function_call":
        for field in ("call_id", "name", "arguments"):
            if not isinstance(item.get(field), str):
                raise TranslationError(f"{where}.{field}: Expected a string", "input")
        out = {**item}
        out.setdefault("status", "completed")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise TranslationError(f"{where}.call_id: Expected a string", "input")
        out = {**item, "output": _output_text(item.get("output"), where)}
        out.setdefault("status", "completed")
    elif kind == "reasoning":
        out = {**item}  # kept for the record; chat backends are not shown earlier reasoning
    else:
        raise TranslationError(f"{where}.type: {kind!r} items are not supported by this gateway", "input")
    out.setdefault("id", new_id(_PREFIXES.get(kind, "rs")))
    return out


def _parts(content: object, role: str, where: str) -> list[dict[str, Any]]:
    text_type = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        part: dict[str, Any] = {"type": text_type, "text": content}
        if role == "assistant":
            part["annotations"] = []
        return [part]
    if not isinstance(content, list):
        raise TranslationError(f"{where}.content: Expected a string or an array of parts", "input")
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS or kind == "refusal":
            _require_text(part, "refusal" if kind == "refusal" else "text", f"{where}.content[{j}]")
            continue
        if kind == "input_image" and role != "assistant":
            continue
        raise TranslationError(f"{where}.content[{j}]: {kind!r} parts are not supported here", "input")
    return list(content)


def _output_text(output: object, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        # Output given as parts: the chat tool message carries text only.
        for j, part in enumerate(output):
            if isinstance(part, dict) and "text" in part:
                _require_text(part, "text", f"{where}.output[{j}]")
        return "".join(p.get("text", "") for p in output if isinstance(p, dict))
    raise TranslationError(f"{where}.output: Expected a string", "input")


def _require_text(part: dict[str, Any], field: str, where: str) -> None:
    if not isinstance(part.get(field, ""), str):
        raise TranslationError(f"{where}.{field}: Expected a string", "input")


def to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages for normalised items; consecutive calls form one assistant message."""
    messages: list[dict[str, Any]] = []
    for item in items:
        kind = item["type"]
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            # A turn that said something and then called tools is one assistant message in chat.
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
    return messages


def _message(item: dict[str, Any]) -> dict[str, Any]:
    # developer is sent as system: every chat backend knows system, not all know developer.
    role = "system" if item["role"] == "developer" else item["role"]
    parts = item["content"]
    texts = [p.get("text") or p.get("refusal") or "" for p in parts if p["type"] != "input_image"]
    if role != "user" or all(p["type"] != "input_image" for p in parts):
        # Plain strings: assistant and system content may not hold images, and some backends
        # accept only strings there.
        return {"role": role, "content": "".join(texts) if role != "user" else "\n".join(texts)}
    content: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise TranslationError("input_image parts need an image_url (file ids are not supported)")
            image: dict[str, Any] = {"url": url}
            if part.get("detail"):
                image["detail"] = part["detail"]
            content.append({"type": "image_url", "image_url": image})
        else:
            content.append({"type": "text", "text": part.get("text", "")})
    return {"role": role, "content": content}
