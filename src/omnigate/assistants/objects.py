"""The Assistants v2 objects as OpenAI shapes them (AssistantObject, ThreadObject, MessageObject,
RunObject, RunStepObject), built from checked request bodies."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from omnigate.assistants import params
from omnigate.assistants.params import invalid

_ALPHABET = string.ascii_letters + string.digits
# A run waiting for tool outputs expires after this, as OpenAI's do.
EXPIRES_S = 600


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def stamp() -> int:
    return int(time.time())


# -- assistants -------------------------------------------------------------------------------------
def assistant(body: dict, model: str) -> dict[str, Any]:
    return {
        "id": new_id("asst"),
        "object": "assistant",
        "created_at": stamp(),
        "name": None,
        "description": None,
        "model": model,
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        **assistant_fields(body),
    }


def assistant_fields(body: dict) -> dict[str, Any]:
    """The fields of a create or modify body that are given (and valid)."""
    checked = {
        "name": params.text(body, "name", most=256),
        "description": params.text(body, "description", most=512),
        "instructions": params.text(body, "instructions", most=256_000),
        "tools": params.tools(body),
        "tool_resources": params.tool_resources(body),
        "metadata": params.metadata(body),
        "temperature": params.number(body, "temperature", 0, 2),
        "top_p": params.number(body, "top_p", 0, 1),
        "response_format": params.response_format(body),
        # For reasoning models; kept on the object only when given (OpenAI's object has no such field).
        "reasoning_effort": params.reasoning_effort(body),
    }
    if checked["tools"] is not None:
        params.tool_choice({}, checked["tools"])
    return {k: v for k, v in checked.items() if k in body and (v is not None or k in _NULLABLE)}


# Fields a modify body may set back to null.
_NULLABLE = ("name", "description", "instructions")


# -- threads and messages ---------------------------------------------------------------------------
def thread(body: dict) -> dict[str, Any]:
    return {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": stamp(),
        "tool_resources": params.tool_resources(body) or {},
        "metadata": params.metadata(body) or {},
    }


def message(body: dict, thread_id: str, *, where: str = "") -> dict[str, Any]:
    """A message a client adds (role user or assistant), complete at once."""
    if not isinstance(body, dict):
        raise invalid(where or "messages", "Expected object")
    role = body.get("role")
    if role not in ("user", "assistant"):
        raise invalid(where + "role", f"Expected user or assistant, got {role!r}")
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": stamp(),
        "thread_id": thread_id,
        "status": "completed",
        "incomplete_details": None,
        "completed_at": stamp(),
        "incomplete_at": None,
        "role": role,
        "content": _content(body.get("content"), where + "content"),
        "assistant_id": None,
        "run_id": None,
        "attachments": attachments(body, where),
        "metadata": params.metadata(body, where) or {},
    }


def _content(value: object, where: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, list) or not value:
        raise invalid(where, "Expected a string or a non-empty array of content parts")
    parts = []
    for index, part in enumerate(value):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(text_part(part["text"]))
        elif kind == "image_url" and isinstance((part.get("image_url") or {}).get("url"), str):
            parts.append({"type": "image_url", "image_url": {"detail": "auto", **part["image_url"]}})
        elif kind == "image_file" and isinstance((part.get("image_file") or {}).get("file_id"), str):
            parts.append({"type": "image_file", "image_file": {"detail": "auto", **part["image_file"]}})
        else:
            raise invalid(f"{where}[{index}]", "Expected a text, image_url or image_file part")
    return parts


def text_part(value: str, annotations: list | None = None) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def attachments(body: dict, where: str = "") -> list[dict[str, Any]] | None:
    value = body.get("attachments")
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(where + "attachments", "Expected array")
    out = []
    for index, item in enumerate(value):
        at = f"{where}attachments[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("file_id"), str):
            raise invalid(f"{at}.file_id", "Required: the id of an uploaded file")
        tools = item.get("tools") or []
        if not isinstance(tools, list) or any(
            not isinstance(t, dict) or t.get("type") not in ("file_search", "code_interpreter") for t in tools
        ):
            raise invalid(f"{at}.tools", "Expected an array of {type: file_search}")
        out.append({"file_id": item["file_id"], "tools": [{"type": t["type"]} for t in tools]})
    return out


def message_text(msg: dict[str, Any]) -> str:
    return "\n".join(p["text"]["value"] for p in msg.get("content") or () if p.get("type") == "text")


# -- runs and steps ---------------------------------------------------------------------------------
def run(body: dict, *, thread_id: str, assistant: dict[str, Any], model: str) -> dict[str, Any]:
    """A new run (queued): the assistant's settings, overridden by the body's."""
    tools = params.tools(body)
    tools = assistant["tools"] if tools is None else tools
    instructions = params.text(body, "instructions", most=256_000)
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    extra = params.text(body, "additional_instructions", most=256_000)
    if extra:
        instructions = f"{instructions}\n\n{extra}" if instructions else extra
    temperature = params.number(body, "temperature", 0, 2)
    top_p = params.number(body, "top_p", 0, 1)
    response_format = params.response_format(body)
    parallel = params.boolean(body, "parallel_tool_calls")
    effort = params.reasoning_effort(body) or assistant.get("reasoning_effort")
    created = stamp()
    extra = {"reasoning_effort": effort} if effort else {}
    return {
        **extra,
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": created,
        "thread_id": thread_id,
        "assistant_id": assistant["id"],
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": created + EXPIRES_S,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": model,
        "instructions": instructions,
        "tools": tools,
        "metadata": params.metadata(body) or {},
        "usage": None,
        "temperature": assistant.get("temperature") if temperature is None else temperature,
        "top_p": assistant.get("top_p") if top_p is None else top_p,
        "max_prompt_tokens": params.integer(body, "max_prompt_tokens", 256),
        "max_completion_tokens": params.integer(body, "max_completion_tokens", 1),
        "truncation_strategy": params.truncation(body) or {"type": "auto", "last_messages": None},
        "tool_choice": params.tool_choice(body, tools) or "auto",
        "parallel_tool_calls": True if parallel is None else parallel,
        "response_format": response_format or assistant.get("response_format") or "auto",
    }


def step(run_obj: dict[str, Any], kind: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": stamp(),
        "assistant_id": run_obj["assistant_id"],
        "thread_id": run_obj["thread_id"],
        "run_id": run_obj["id"],
        "type": kind,
        "status": "in_progress",
        "step_details": {"type": kind, **details},
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }


def assistant_message(run_obj: dict[str, Any]) -> dict[str, Any]:
    """The message a run writes, in progress until its text is complete."""
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": stamp(),
        "thread_id": run_obj["thread_id"],
        "status": "in_progress",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "assistant",
        "content": [],
        "assistant_id": run_obj["assistant_id"],
        "run_id": run_obj["id"],
        "attachments": [],
        "metadata": {},
    }


def stored(obj: dict[str, Any], account_id: int) -> tuple[str, dict[str, Any], int, str, str]:
    """A message or a step as the store writes it: (kind, object, account, listed under, thread)."""
    if obj["object"] == "thread.message":
        return "message", obj, account_id, obj["thread_id"], obj["thread_id"]
    return "step", obj, account_id, obj["run_id"], obj["thread_id"]


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def listing(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
