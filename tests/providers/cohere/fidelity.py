"""Checks of Cohere v2 payloads against the official `cohere` SDK's types.

The SDK models allow unknown fields (extra="allow") and type several enums as
``Literal[...] | Any``, so validation alone would let a misspelled key or value through; these
checks also walk ``model_extra`` and test the open enums against their literal members.
"""

from __future__ import annotations

import typing
from typing import Any

import pydantic
from cohere.types import ChatMessageV2, ToolV2
from cohere.v2.raw_client import AsyncRawV2Client
from cohere.v2.types import V2ChatResponse, V2ChatStreamResponse
from pydantic import BaseModel

from tests.fakes.sdk_fidelity import FidelityError, checked

__all__ = ["FidelityError", "check_error_body", "check_request", "check_response", "check_stream_event"]

FINISH_REASONS = {"COMPLETE", "STOP_SEQUENCE", "MAX_TOKENS", "TOOL_CALL", "ERROR", "TIMEOUT"}


def _request_model() -> type[BaseModel]:
    # The SDK has no request model; its chat() signature is the request's schema, so one is
    # built from it (stream is the one body field the SDK sets itself).
    hints = typing.get_type_hints(AsyncRawV2Client.chat)
    fields: dict[str, Any] = {"stream": (bool | None, None)}
    for name, annotation in hints.items():
        if name in ("return", "request_options"):
            continue
        fields[name] = (annotation, ...) if name in ("model", "messages") else (annotation, None)
    return pydantic.create_model("V2ChatRequest", __config__=pydantic.ConfigDict(extra="forbid"), **fields)


_REQUEST = _request_model()
_EVENT = pydantic.TypeAdapter(V2ChatStreamResponse)
_MESSAGE = pydantic.TypeAdapter(ChatMessageV2)


def _one_of(value: Any, allowed: set[str], what: str) -> None:
    if value is not None and value not in allowed:
        raise FidelityError(f"{what} is {value!r}; the API knows {sorted(allowed)}")


def check_request(body: dict[str, Any]) -> None:
    """A v2 chat request body, as the API would parse it."""
    checked(body, _REQUEST, "V2ChatRequest")
    for i, message in enumerate(body["messages"]):
        checked(message, _MESSAGE, f"messages[{i}]")
        for j, part in enumerate(message.get("content") if isinstance(message.get("content"), list) else ()):
            detail = (part.get("image_url") or {}).get("detail") if isinstance(part, dict) else None
            _one_of(detail, {"auto", "low", "high"}, f"messages[{i}].content[{j}].image_url.detail")
    for i, tool in enumerate(body.get("tools") or ()):
        checked(tool, ToolV2, f"tools[{i}]")
        if "function" not in tool:
            raise FidelityError(f"tools[{i}] has no function")
    _one_of(body.get("tool_choice"), {"REQUIRED", "NONE"}, "tool_choice")
    _one_of(body.get("safety_mode"), {"CONTEXTUAL", "STRICT", "OFF"}, "safety_mode")
    _one_of((body.get("thinking") or {}).get("type"), {"enabled", "disabled"}, "thinking.type")


def check_response(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed v2 chat response; returns it unchanged."""
    checked(body, V2ChatResponse, "V2ChatResponse")
    _one_of(body.get("finish_reason"), FINISH_REASONS, "finish_reason")
    return body


def check_stream_event(event: dict[str, Any]) -> dict[str, Any]:
    """One streamed v2 event; returns it unchanged."""
    if not isinstance(event.get("type"), str):
        raise FidelityError(f"stream event without a type: {event}")
    parsed = checked(event, _EVENT, f"{event['type']} event")
    if parsed.type != event["type"]:
        raise FidelityError(f"{event['type']} event parsed as {parsed.type}")
    if event["type"] == "message-end":
        _one_of((event.get("delta") or {}).get("finish_reason"), FINISH_REASONS, "finish_reason")
    if event["type"] == "content-start":
        kind = ((event.get("delta") or {}).get("message") or {}).get("content", {}).get("type")
        _one_of(kind, {"text", "thinking"}, "content-start type")
    return event


def check_error_body(body: dict[str, Any]) -> dict[str, Any]:
    """Cohere's error body: `{"id": ..., "message": ...}` (the SDK reads it untyped)."""
    if not set(body) <= {"id", "message"} or not isinstance(body.get("message"), str) or not body["message"]:
        raise FidelityError(f"a Cohere error body is {{id?, message}}: {body}")
    return body
