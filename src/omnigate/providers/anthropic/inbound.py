"""Anthropic Messages API → OpenAI chat, for clients of the gateway (pure; no I/O).

The opposite direction of request.py/response.py: clients speak Anthropic's protocol to the
gateway (`POST /v1/messages`), every catalogue chat model answers in OpenAI's shape, and the
answer goes back as an Anthropic `Message`. Input that has no OpenAI counterpart and would
change the conversation if dropped (server tools, file references, search results) is refused
with an `InboundError`; markers that only steer Anthropic's own serving (cache_control,
service_tier, container) are ignored.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import orjson

# thinking.budget_tokens → reasoning_effort: the upper bound of each effort's budget.
EFFORT_BUDGETS = ((2048, "low"), (8192, "medium"))
# output_config.effort → reasoning_effort: OpenAI has no level above "high".
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class InboundError(ValueError):
    """The Anthropic request is malformed or asks for what the gateway cannot translate."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


# ------------------------------------------------------------------------------- request


def to_chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat body for an Anthropic Messages request (model name passed through)."""
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        # Optional for OpenAI, required by Anthropic: clients must keep getting this 400.
        raise InboundError("max_tokens: Field required", param="max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InboundError("max_tokens: Input should be an integer of at least 1", param="max_tokens")
    messages = _messages(body.get("messages"))
    system = _system(body.get("system"))
    out: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [{"role": "system", "content": system}, *messages] if system else messages,
        "max_tokens": max_tokens,
    }
    for key in ("temperature", "top_p", "top_k"):
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and (sequences := [s for s in stop if isinstance(s, str) and s]):
        out["stop"] = sequences
    if body.get("stream") is True:
        out["stream"] = True
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        out["user"] = metadata["user_id"]
    _tools(body, out)
    _reasoning(body, out)
    return out


def _system(system: object) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if isinstance(system, list):
        texts = [b.get("text") for b in system if isinstance(b, dict) and b.get("type") == "text"]
        if len(texts) == len(system) and all(isinstance(t, str) for t in texts):
            return "\n\n".join(t for t in texts if t)
    raise InboundError("system: Input should be a string or a list of text blocks", param="system")


def _messages(messages: object) -> list[dict[str, Any]]:
    if messages is None:
        raise InboundError("messages: Field required", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InboundError("messages: Input should be a non-empty list", param="messages")
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InboundError(f"messages.{i}: Input should be an object", param="messages")
        role = message.get("role")
        if role == "user":
            out.extend(_user(message.get("content"), f"messages.{i}.content"))
        elif role == "assistant":
            out.append(_assistant(message.get("content"), f"messages.{i}.content"))
        else:
            raise InboundError(f"messages.{i}.role: Input should be 'user' or 'assistant'", param="messages")
    return out


def _blocks(content: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise InboundError(f"{path}: Input should be a string or a list of content blocks", param="messages")
    return content


def _user(content: object, path: str) -> list[dict[str, Any]]:
    """One user turn: OpenAI wants tool results as `tool` messages right after the assistant's
    calls, and Anthropic puts them first in the user turn, so they come out first."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, path)):
        kind = block.get("type")
        where = f"{path}.{j}"
        if kind == "tool_result":
            text, images = _tool_result(block, where)
            results.append(
                {"role": "tool", "tool_call_id": _str(block, "tool_use_id", where), "content": text}
            )
            # OpenAI tool messages hold text only: images a tool returned follow as user input.
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": _str(block, "text", where)})
        elif kind == "image":
            parts.append(_image(block, where))
        elif kind == "document":
            parts.append(_document(block, where))
        else:
            raise _unsupported(where, f"{kind!r} blocks")
    if parts:
        single = len(parts) == 1 and parts[0]["type"] == "text"
        # A lone text part goes as a string, the form every backend (local engines too) accepts.
        results.append({"role": "user", "content": parts[0]["text"] if single else parts})
    return results


def _tool_result(block: dict[str, Any], path: str) -> tuple[str, list[dict[str, Any]]]:
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for k, item in enumerate(_blocks(content, f"{path}.content")):
            if item.get("type") == "text":
                texts.append(_str(item, "text", f"{path}.content.{k}"))
            elif item.get("type") == "image":
                images.append(_image(item, f"{path}.content.{k}"))
            else:
                raise _unsupported(f"{path}.content.{k}", f"{item.get('type')!r} blocks in tool results")
    text = "\n".join(texts)
    if block.get("is_error") is True:
        # OpenAI has no error flag on tool messages; the model still has to know the call failed.
        text = f"Error: {text}" if text else "Error"
    return text, images


def _image(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        media = _str(source, "media_type", f"{path}.source")
        url = f"data:{media};base64,{_str(source, 'data', f'{path}.source')}"
    elif kind == "url":
        url = _str(source, "url", f"{path}.source")
    else:
        raise InboundError(
            f"{path}.source: only base64 and url image sources are supported", param="messages"
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if kind == "text":
        return {"type": "text", "text": _str(source, "data", f"{path}.source")}
    if kind == "base64" and source.get("media_type") == "application/pdf":
        data = _str(source, "data", f"{path}.source")
        file = {"file_data": f"data:application/pdf;base64,{data}", "filename": title or "document.pdf"}
        return {"type": "file", "file": file}
    raise InboundError(
        f"{path}.source: only base64 PDF and plain-text documents are supported", param="messages"
    )


def _assistant(content: object, path: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, path)):
        kind = block.get("type")
        where = f"{path}.{j}"
        if kind == "text":
            texts.append(_str(block, "text", where))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": _str(block, "name", where), "arguments": arguments}
            calls.append({"id": _str(block, "id", where), "type": "function", "function": function})
        elif kind in ("thinking", "redacted_thinking"):
            # OpenAI's chat API cannot take earlier reasoning back; models reason afresh.
            continue
        else:
            raise _unsupported(where, f"{kind!r} blocks")
    text: str | list[dict[str, str]] | None
    if len(texts) > 1:
        text = [{"type": "text", "text": t} for t in texts]
    else:
        # OpenAI wants null content beside tool calls that came without words.
        text = texts[0] if texts else (None if calls else "")
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if not tools:
        # A tool_choice without tools means nothing, and OpenAI refuses it.
        return
    if not isinstance(tools, list):
        raise InboundError("tools: Input should be a list", param="tools")
    functions = []
    for j, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise _unsupported(f"tools.{j}", f"server tools ({kind!r})", param="tools")
        function: dict[str, Any] = {"name": _str(tool, "name", f"tools.{j}", param="tools")}
        if isinstance(tool.get("description"), str) and tool["description"]:
            function["description"] = tool["description"]
        function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        if tool.get("strict") is True:
            function["strict"] = True
        functions.append({"type": "function", "function": function})
    out["tools"] = functions
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind in TOOL_CHOICES:
        out["tool_choice"] = TOOL_CHOICES[kind]
    elif kind == "tool":
        name = _str(choice, "name", "tool_choice", param="tool_choice")
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise InboundError(f"tool_choice.type: unknown type {kind!r}", param="tool_choice")
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        out["parallel_tool_calls"] = False


def _reasoning(body: dict[str, Any], out: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    config = body.get("output_config")
    config = config if isinstance(config, dict) else {}
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        budget = budget if isinstance(budget, int) and not isinstance(budget, bool) else 0
        out["reasoning_effort"] = next((e for limit, e in EFFORT_BUDGETS if budget <= limit), "high")
    elif isinstance(config.get("effort"), str) and config["effort"] in EFFORTS:
        out["reasoning_effort"] = EFFORTS[config["effort"]]
    # Structured outputs: output_config.format now, the top-level output_format of the beta before.
    fmt = config.get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt["schema"]},
        }


def _unsupported(path: str, what: str, *, param: str = "messages") -> InboundError:
    return InboundError(f"{path}: {what} are not supported by this gateway", param=param)


def _str(obj: dict[str, Any], key: str, path: str, *, param: str = "messages") -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InboundError(f"{path}.{key}: Input should be a valid string", param=param)
    return value


# ------------------------------------------------------------------------------ response


def to_message(
    completion: dict[str, Any], *, model: str, stop_sequences: Iterable[str] = ()
) -> dict[str, Any]:
    """The Anthropic `Message` for an OpenAI `chat.completion`."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = reasoning_text(reply)
    if reasoning:
        # No signature: the thinking was not Claude's, and nothing could verify one.
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = reply.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text") or "" for p in text if isinstance(p, dict))
    if not text and isinstance(reply.get("refusal"), str):
        text = reply["refusal"]
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or tool_use_id(),
                "name": function.get("name") or "",
                "input": parse_arguments(function.get("arguments")),
            }
        )
    matched = matched_stop(choice, stop_sequences)
    has_tools = any(block["type"] == "tool_use" for block in content)
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), matched, tool_use=has_tools),
        "stop_sequence": matched,
        "usage": anthropic_usage(completion.get("usage") or {}),
    }


def reasoning_text(message: dict[str, Any]) -> str:
    # DeepSeek and most OpenAI-compatible servers say reasoning_content; vLLM and OpenRouter, reasoning.
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def matched_stop(choice: dict[str, Any], sequences: Iterable[str]) -> str | None:
    """The stop sequence that ended the answer, where the backend says (vLLM's `stop_reason`);
    OpenAI itself never does, so its answers end with end_turn."""
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value in set(sequences) else None


def stop_reason(finish: object, matched: str | None, *, tool_use: bool = False) -> str:
    if matched is not None:
        return "stop_sequence"
    reason = STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    # Some backends (local engines, Gemini-compatible ones) finish a tool call with "stop".
    return "tool_use" if tool_use and reason == "end_turn" else reason


def anthropic_usage(usage: dict[str, Any]) -> dict[str, int]:
    """Anthropic counts cache reads apart from input_tokens; OpenAI's prompt_tokens includes them."""
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return {
        "input_tokens": max(_int(usage.get("prompt_tokens")) - cached, 0),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
    }


def parse_arguments(arguments: object) -> dict[str, Any]:
    # Anthropic's input is always an object. A call without parameters often comes as "", and a
    # small model may write broken JSON: both become {} rather than failing the whole answer.
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def message_id(source: object) -> str:
    """A `msg_` id, kept from the backend's id so logs on both sides can be matched."""
    if isinstance(source, str) and source:
        tail = source.removeprefix("chatcmpl-")
        return tail if tail.startswith("msg_") else "msg_" + tail
    return "msg_" + secrets.token_hex(12)


def tool_use_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
