"""Gemini `GenerateContentResponse` → OpenAI `chat.completion` (pure; shared with the stream)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

# Gemini finish reasons with no OpenAI counterpart (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...)
# end the answer without saying why, which is what "stop" means to a client.
_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def finish_reason(reason: object, *, called: bool) -> str:
    mapped = _FINISH_REASONS.get(str(reason), "stop")
    # Gemini says STOP after function calls; OpenAI clients loop on "tool_calls".
    return "tool_calls" if called and mapped == "stop" else mapped


def completion_id(response: dict) -> str:
    rid = response.get("responseId")
    return f"chatcmpl-{rid}" if isinstance(rid, str) and rid else f"chatcmpl-{uuid.uuid4().hex}"


def blocked(response: dict) -> bool:
    feedback = response.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


def tool_call(part: dict, index: int | None = None) -> dict[str, Any]:
    """The OpenAI tool call for a `functionCall` part (Gemini sends each call whole)."""
    call = part["functionCall"]
    out: dict[str, Any] = {} if index is None else {"index": index}
    out |= {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": json.dumps(call.get("args") or {})},
    }
    signature = part.get("thoughtSignature")
    if signature:
        # Where Google's own OpenAI-compatible endpoint puts it: clients that send the assistant
        # message back unchanged return it, and Gemini 3 refuses replayed calls without it.
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


def part_kind(part: object) -> str | None:
    """The kind of a part: "call", "thought", "text", or None where this adapter drops it."""
    if not isinstance(part, dict):
        return None
    if isinstance(part.get("functionCall"), dict):
        return "call"
    if isinstance(part.get("text"), str):
        return "thought" if part.get("thought") is True else "text"
    return None


def usage(metadata: object) -> dict[str, Any] | None:
    if not isinstance(metadata, dict):
        return None
    prompt = _int(metadata.get("promptTokenCount"))
    thoughts = _int(metadata.get("thoughtsTokenCount"))
    # Thinking is billed as output by Google; OpenAI counts reasoning inside completion_tokens too.
    completion = _int(metadata.get("candidatesTokenCount")) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": _int(metadata.get("cachedContentTokenCount"))},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def to_openai(response: dict, *, model: str) -> dict[str, Any]:
    candidates = [c for c in response.get("candidates") or () if isinstance(c, dict)]
    if candidates:
        choices = [_choice(c, position) for position, c in enumerate(candidates)]
    else:
        # The prompt itself was blocked: Gemini sends no candidate at all.
        choices = [
            {
                "index": 0,
                "message": _message("", [], ""),
                "logprobs": None,
                "finish_reason": "content_filter" if blocked(response) else "stop",
            }
        ]
    out: dict[str, Any] = {
        "id": completion_id(response),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    counted = usage(response.get("usageMetadata"))
    if counted is not None:
        out["usage"] = counted
    return out


def _choice(candidate: dict, position: int) -> dict[str, Any]:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        kind = part_kind(part)
        if kind == "call":
            calls.append(tool_call(part))
        elif kind == "thought":
            reasoning.append(part["text"])
        elif kind == "text":
            text.append(part["text"])
    content = "".join(text) if text or not calls else None
    index = candidate.get("index")
    return {
        "index": index if isinstance(index, int) else position,
        "message": _message(content, calls, "".join(reasoning)),
        "logprobs": None,
        "finish_reason": finish_reason(candidate.get("finishReason"), called=bool(calls)),
    }


def _message(content: str | None, calls: list[dict], reasoning: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
