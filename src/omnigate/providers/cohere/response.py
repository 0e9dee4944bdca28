"""Cohere v2 `ChatResponse` → OpenAI `chat.completion`. Pure: no I/O, no state.

Shared with the stream translator: the finish-reason and usage mappings, so a streamed answer
and a whole one read (and bill) the same.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_FINISH_REASONS = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}


class InvalidResponse(ValueError):
    """A 200 answer that is not a Cohere chat response."""


def to_openai(response: dict, *, model: str, created: int) -> dict:
    message = response.get("message")
    if not isinstance(message, dict):
        raise InvalidResponse("returned a chat response without a message")
    text, reasoning = content_text(message.get("content"))
    plan = message.get("tool_plan")
    # The plan is what the model says before calling tools; OpenAI has only content for it
    # (the request translation turns it back into tool_plan on the next turn).
    if isinstance(plan, str) and plan:
        text = plan + text
    tool_calls = [_tool_call(call) for call in message.get("tool_calls") or ()]
    out_message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not tool_calls else None,
        "refusal": None,
    }
    if reasoning:
        out_message["reasoning_content"] = reasoning
    if tool_calls:
        out_message["tool_calls"] = tool_calls
    completion: dict[str, Any] = {
        "id": str(response.get("id") or ""),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": out_message,
                "logprobs": None,
                "finish_reason": finish_reason(response.get("finish_reason"), response.get("id")),
            }
        ],
    }
    usage = to_usage(response.get("usage"))
    if usage is not None:
        completion["usage"] = usage
    return completion


def content_text(content: Any) -> tuple[str, str]:
    """The text and the thinking of a v2 assistant content list, each joined."""
    if isinstance(content, str):
        return content, ""
    if content is None:
        return "", ""
    if not isinstance(content, list):
        raise InvalidResponse("returned message content that is not a list")
    text: list[str] = []
    thinking: list[str] = []
    for item in content:
        if not isinstance(item, dict):
            raise InvalidResponse("returned a content item that is not an object")
        if item.get("type") == "text" and isinstance(item.get("text"), str):
            text.append(item["text"])
        elif item.get("type") == "thinking" and isinstance(item.get("thinking"), str):
            thinking.append(item["thinking"])
        # Other item types are newer than this adapter; they carry nothing OpenAI can show.
    return "".join(text), "".join(thinking)


def _tool_call(call: Any) -> dict:
    if not isinstance(call, dict) or not isinstance(call.get("id"), str):
        raise InvalidResponse("returned a tool call without an id")
    return function_call(call["id"], as_object(call.get("function")))


def function_call(call_id: str, function: dict) -> dict:
    """A tool call as both protocols write it (Cohere v2 copies OpenAI's shape). Arguments stay
    the string that was sent: re-encoding could reorder or reformat them."""
    arguments = function.get("arguments")
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": str(function.get("name") or ""),
            "arguments": arguments if isinstance(arguments, str) else "{}",
        },
    }


def finish_reason(value: Any, response_id: Any = None) -> str:
    mapped = _FINISH_REASONS.get(value) if isinstance(value, str) else None
    if mapped is not None:
        return mapped
    # ERROR and TIMEOUT end an answer Cohere still returned; the client gets what there is,
    # and the operator a trace of why it may be cut short.
    log.warning("cohere response %s finished with %r; reported as 'stop'", response_id, value)
    return "stop"


def to_usage(usage: Any) -> dict | None:
    """OpenAI usage from Cohere's; `tokens` (what the model saw) before `billed_units`."""
    if not isinstance(usage, dict):
        return None
    tokens = as_object(usage.get("tokens"))
    billed = as_object(usage.get("billed_units"))
    prompt = _count(tokens.get("input_tokens"), billed.get("input_tokens"))
    completion = _count(tokens.get("output_tokens"), billed.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    cached = _count(usage.get("cached_tokens"))
    if cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def as_object(value: Any) -> dict:
    """The value when it is a JSON object, else an empty one (a missing part reads as empty)."""
    return value if isinstance(value, dict) else {}


def _count(*values: Any) -> int | None:
    # Cohere's schema types counts as numbers (floats in the SDK); OpenAI's are integers.
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return None
