"""The Assistants stream events (AssistantStreamEvent): their names, the delta objects, and how
they are written (`event: <name>` then `data: <json>`, ending with `event: done` / `data: [DONE]`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from omnigate.errors import ApiError

DONE = b"event: done\ndata: [DONE]\n\n"
# The field a step's end stamps, by the status it ends in.
ENDED_AT = {
    "cancelled": "cancelled_at",
    "expired": "expired_at",
    "failed": "failed_at",
    "completed": "completed_at",
}


def encode(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def message_delta(
    message_id: str, text: str, annotations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    part: dict[str, Any] = {"index": 0, "type": "text", "text": {"value": text}}
    if annotations:
        part["text"]["annotations"] = [{"index": i, **a} for i, a in enumerate(annotations)]
    return {"id": message_id, "object": "thread.message.delta", "delta": {"content": [part]}}


def step_delta(step_id: str, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": tool_calls}},
    }


def error_data(err: ApiError) -> dict[str, Any]:
    """The `error` event's data (OpenAI's Error object)."""
    return {"type": err.type, "message": err.message, "param": err.param, "code": err.code}


def last_error(err: ApiError) -> dict[str, str]:
    """A run's `last_error`: OpenAI names three codes."""
    if err.status == 429:
        code = "rate_limit_exceeded"
    elif 400 <= err.status < 500:
        code = "invalid_prompt"
    else:
        code = "server_error"
    return {"code": code, "message": err.message}


def step_error(run_error: dict[str, str] | None) -> dict[str, str] | None:
    """A failed step's `last_error`: a step names two of the run's codes (a refused input is a
    failure of the step's own work there)."""
    if run_error is None:
        return None
    code = run_error["code"] if run_error["code"] == "rate_limit_exceeded" else "server_error"
    return {"code": code, "message": run_error["message"]}


def prefix(obj: dict[str, Any]) -> str:
    """The event name's stem of a message or a step."""
    return "thread.message" if obj["object"] == "thread.message" else "thread.run.step"


def ended(obj: dict[str, Any]) -> str:
    """The event that tells an object's end: its status (a message's `incomplete` included)."""
    return str(obj["status"])


def when(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
