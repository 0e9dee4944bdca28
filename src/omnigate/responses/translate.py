"""A Responses request as a chat-completions body, and a chat completion as a Response."""

from __future__ import annotations

import time
from typing import Any

from omnigate.responses.items import TranslationError, new_id, to_messages

# Request fields echoed in every Response object, with OpenAI's defaults.
_ECHO_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
}


def to_chat_body(request: dict[str, Any], history: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict:
    """The chat body for a Responses request; `history` is the earlier turns' items, oldest first."""
    if request.get("background") is True:
        raise TranslationError(
            "background: Background responses are not supported by this gateway; use stream: true",
            "background",
        )
    if request.get("conversation") is not None:
        raise TranslationError(
            "conversation: Conversations are not supported by this gateway; "
            "chain turns with previous_response_id",
            "conversation",
        )
    messages: list[dict[str, Any]] = []
    instructions = request.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise TranslationError("instructions: Expected a string", "instructions")
        messages.append({"role": "system", "content": instructions})
    messages += to_messages(history + items)
    body: dict[str, Any] = {"model": request.get("model"), "messages": messages}
    for name in ("temperature", "top_p", "parallel_tool_calls", "user", "stream", "seed"):
        if request.get(name) is not None:
            body[name] = request[name]
    if request.get("max_output_tokens") is not None:
        body["max_tokens"] = request["max_output_tokens"]
    if request.get("tools"):
        body["tools"] = [_tool(tool, i) for i, tool in enumerate(_list(request["tools"], "tools"))]
    if request.get("tool_choice") is not None:
        body["tool_choice"] = _tool_choice(request["tool_choice"])
    response_format = _response_format(request.get("text"))
    if response_format is not None:
        body["response_format"] = response_format
    reasoning = request.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        body["reasoning_effort"] = reasoning["effort"]
    return body


def _list(value: object, name: str) -> list:
    if not isinstance(value, list):
        raise TranslationError(f"{name}: Expected an array", name)
    return value


def _tool(tool: object, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise TranslationError(
            f"tools[{index}]: {kind!r} tools are not supported by this gateway; use function tools",
            "tools",
        )
    if not isinstance(tool.get("name"), str):
        raise TranslationError(f"tools[{index}].name: Expected a string", "tools")
    function = {
        k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None
    }
    return {"type": "function", "function": function}


def _tool_choice(choice: object) -> object:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise TranslationError("tool_choice: Expected auto, none, required or a function", "tool_choice")


def _response_format(text: object) -> dict[str, Any] | None:
    if not isinstance(text, dict) or not isinstance(text.get("format"), dict):
        return None
    fmt = text["format"]
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    return None


def base_response(request: dict[str, Any], *, response_id: str, model: str, created_at: int) -> dict:
    """A Response with no output yet: the request's echo fields and an in-progress status."""
    out: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
    }
    for name, default in _ECHO_DEFAULTS.items():
        value = request.get(name)
        out[name] = default if value is None else value
    # The spec requires both keys on an echoed function tool; null says the request left them out.
    out["tools"] = [
        {"parameters": None, "strict": None, **tool} if tool.get("type") == "function" else tool
        for tool in out["tools"]
    ]
    # The spec types `user` and `usage` as string and object, not nullable: absent until known.
    if isinstance(request.get("user"), str):
        out["user"] = request["user"]
    text = request.get("text")
    out["text"] = text if isinstance(text, dict) and text.get("format") else {"format": {"type": "text"}}
    reasoning = request.get("reasoning")
    out["reasoning"] = (
        {"effort": reasoning.get("effort"), "summary": None} if isinstance(reasoning, dict) else None
    )
    out["store"] = request.get("store") is not False
    return out


def to_response(completion: dict[str, Any], request: dict[str, Any], *, response_id: str, model: str) -> dict:
    """The Response for a chat completion (its first choice)."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    incomplete = choice.get("finish_reason") == "length"
    output: list[dict[str, Any]] = []
    if message.get("content") or not message.get("tool_calls"):
        output.append(message_item(new_id("msg"), message.get("content") or "", incomplete=incomplete))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        output.append(
            function_item(
                new_id("fc"),
                call.get("id") or new_id("call"),
                function.get("name") or "",
                function.get("arguments") or "",
            )
        )
    created = completion.get("created")
    response = base_response(
        request,
        response_id=response_id,
        model=model,
        created_at=created if isinstance(created, int) else int(time.time()),
    )
    return finish(response, output, usage=completion.get("usage"), incomplete=incomplete)


def finish(response: dict, output: list[dict[str, Any]], *, usage: dict | None, incomplete: bool) -> dict:
    response["output"] = output
    response["status"] = "incomplete" if incomplete else "completed"
    response["incomplete_details"] = {"reason": "max_output_tokens"} if incomplete else None
    if usage:
        response["usage"] = responses_usage(usage)
    else:
        response.pop("usage", None)
    # Not part of the wire schema, but OpenAI's SDKs expose it and clients read it from JSON.
    response["output_text"] = output_text(output)
    return response


def message_item(item_id: str, text: str, *, incomplete: bool = False) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "incomplete" if incomplete else "completed",
        "content": [output_text_part(text)],
    }


def output_text_part(text: str) -> dict[str, Any]:
    # The spec requires `logprobs`; chat completions are not asked for them, so it is empty.
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_item(item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def output_text(output: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for item in output
        if item.get("type") == "message"
        for part in item.get("content") or ()
        if part.get("type") == "output_text"
    )


def responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def chat_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Response's usage in chat-completions terms, the shape billing reads."""
    if not usage:
        return None
    prompt = int(usage.get("input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
        "prompt_tokens_details": {"cached_tokens": int(cached)},
    }
