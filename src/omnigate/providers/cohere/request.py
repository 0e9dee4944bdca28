"""OpenAI chat body → Cohere v2 chat body (`POST /v2/chat`). Pure: no I/O, no state.

What cannot be said in Cohere's protocol raises `ApiError` (400) instead of being dropped
silently, so a client never gets an answer to a question it did not ask. Fields with no Cohere
counterpart that do not change the answer's meaning (user, metadata, store, parallel_tool_calls,
logit_bias, service_tier, ...) are left out.
"""

from __future__ import annotations

from typing import Any

from omnigate.errors import bad_request
from omnigate.providers.cohere.response import function_call

# Thinking budgets for OpenAI's reasoning_effort levels; Cohere takes a token budget instead.
# Above "high" the budget doubles once; a model that cannot think that long gets Cohere's own
# 400, which reaches the client in Cohere's words.
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}

# Cohere requires a parameters schema on every function; OpenAI lets it be left out.
_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def to_cohere(body: dict) -> dict:
    """The Cohere v2 chat request for an OpenAI chat body (whose `model` is the upstream's)."""
    out: dict[str, Any] = {"model": body.get("model"), "messages": _messages(body.get("messages"))}
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise bad_request("Cohere answers with one choice only; `n` must be 1.", param="n")
    _copy_sampling(body, out)
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(t, i) for i, t in enumerate(tools)]
        if any(isinstance(t, dict) and (t.get("function") or {}).get("strict") is True for t in tools):
            out["strict_tools"] = True
    _apply_tool_choice(body.get("tool_choice"), out)
    response_format = _response_format(body.get("response_format"))
    if response_format is not None:
        out["response_format"] = response_format
    thinking = _thinking(body.get("reasoning_effort"))
    if thinking is not None:
        out["thinking"] = thinking
    if body.get("stream") is True:
        # stream_options has no Cohere counterpart: message-end always carries the usage.
        out["stream"] = True
    return out


def _copy_sampling(body: dict, out: dict[str, Any]) -> None:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        out["max_tokens"] = _int(max_tokens, "max_tokens")
    for name in ("temperature", "frequency_penalty", "presence_penalty"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("seed") is not None:
        out["seed"] = _int(body["seed"], "seed")
    if body.get("top_p") is not None:
        out["p"] = body["top_p"]
    if body.get("top_k") is not None:
        out["k"] = _int(body["top_k"], "top_k")
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = stop


def _int(value: Any, param: str) -> int:
    # The catalogue's rules let integral floats through (JSON has one number type); Cohere's
    # integer fields do not take 40.0.
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise bad_request(f"`{param}` must be an integer for Cohere.", param=param)
    return int(value)


# -- messages ---------------------------------------------------------------------------------


def _messages(messages: Any) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise bad_request("`messages` must be a non-empty array.", param="messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request(f"messages[{i}] must be an object.", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": _text_content(message.get("content"), i)})
        elif role == "user":
            out.append({"role": "user", "content": _user_content(message.get("content"), i)})
        elif role == "assistant":
            out.append(_assistant(message, i))
        elif role == "tool":
            out.append(_tool_result(message, i))
        else:
            raise bad_request(f"messages[{i}]: role {role!r} is not supported by Cohere.", param="messages")
    return out


def _text_content(content: Any, i: int) -> str | list[dict]:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return [{"type": "text", "text": _text_part(part, i)} for part in content]
    raise bad_request(f"messages[{i}].content must be a string or an array of text parts.", param="messages")


def _text_part(part: Any, i: int) -> str:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return part["text"]
    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
    raise bad_request(f"messages[{i}]: Cohere does not accept {kind!r} parts here.", param="messages")


def _user_content(content: Any, i: int) -> str | list[dict]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"messages[{i}].content must be a string or an array.", param="messages")
    parts: list[dict] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            # OpenAI's older shape allowed a bare URL string here.
            image = {"url": image} if isinstance(image, str) else image
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                raise bad_request(f"messages[{i}]: an image_url part needs a url.", param="messages")
            # Cohere takes web URLs and base64 data URIs alike, so the URL passes unchanged.
            translated: dict[str, Any] = {"url": image["url"]}
            if image.get("detail") in ("auto", "low", "high"):
                translated["detail"] = image["detail"]
            parts.append({"type": "image_url", "image_url": translated})
        else:
            parts.append({"type": "text", "text": _text_part(part, i)})
    return parts


def _assistant(message: dict, i: int) -> dict:
    content = message.get("content")
    text = "" if content is None else _joined_text(content, i)
    reasoning = message.get("reasoning_content")
    out: dict[str, Any] = {"role": "assistant"}
    tool_calls = message.get("tool_calls")
    if tool_calls:
        out["tool_calls"] = [_tool_call(call, i) for call in tool_calls]
        # Cohere keeps the words said before a tool call as the plan; the answer translation
        # turns the plan back into content, so a conversation survives the round trip.
        if text:
            out["tool_plan"] = text
        if isinstance(reasoning, str) and reasoning:
            out["content"] = [{"type": "thinking", "thinking": reasoning}]
        return out
    if isinstance(reasoning, str) and reasoning:
        out["content"] = [{"type": "thinking", "thinking": reasoning}, {"type": "text", "text": text}]
    else:
        out["content"] = text
    return out


def _joined_text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Assistant refusal parts are text the model said; Cohere only knows text.
        return "".join(_assistant_part(part, i) for part in content)
    raise bad_request(f"messages[{i}].content must be a string or an array.", param="messages")


def _assistant_part(part: Any, i: int) -> str:
    if isinstance(part, dict) and part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
        return part["refusal"]
    return _text_part(part, i)


def _tool_call(call: Any, i: int) -> dict:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(call.get("id"), str):
        raise bad_request(f"messages[{i}]: each tool call needs an id and a function.", param="messages")
    return function_call(call["id"], function)


def _tool_result(message: dict, i: int) -> dict:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise bad_request(f"messages[{i}]: a tool message needs a tool_call_id.", param="messages")
    content = message.get("content")
    if isinstance(content, list):
        # Cohere's tool content blocks mirror OpenAI's text parts one for one.
        translated: str | list[dict] = [{"type": "text", "text": _text_part(part, i)} for part in content]
    elif isinstance(content, str):
        translated = content
    else:
        raise bad_request(f"messages[{i}].content must be a string or an array.", param="messages")
    return {"role": "tool", "tool_call_id": call_id, "content": translated}


# -- tools, formats, reasoning ----------------------------------------------------------------


def _tool(tool: Any, i: int) -> dict:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
        raise bad_request(f"tools[{i}]: Cohere accepts only function tools.", param="tools")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(f"tools[{i}].function.name is required.", param="tools")
    out: dict[str, Any] = {"name": name}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    parameters = function.get("parameters")
    out["parameters"] = parameters if isinstance(parameters, dict) else dict(_NO_PARAMETERS)
    return {"type": "function", "function": out}


def _apply_tool_choice(choice: Any, out: dict[str, Any]) -> None:
    if choice is None or choice == "auto":
        return
    if choice == "none":
        out["tool_choice"] = "NONE"
        return
    if choice == "required":
        out["tool_choice"] = "REQUIRED"
        return
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        # Cohere cannot name one tool; offering only that tool and requiring a call is the same.
        kept = [t for t in out.get("tools", ()) if t["function"]["name"] == name]
        if not kept:
            raise bad_request(f"tool_choice names {name!r}, which is not in `tools`.", param="tool_choice")
        out["tools"] = kept
        out["tool_choice"] = "REQUIRED"
        return
    raise bad_request(f"tool_choice {choice!r} is not supported by Cohere.", param="tool_choice")


def _response_format(value: Any) -> dict | None:
    if not isinstance(value, dict) or value.get("type") in (None, "text"):
        return None
    if value["type"] == "json_object":
        return {"type": "json_object"}
    if value["type"] == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        out: dict[str, Any] = {"type": "json_object"}
        if isinstance(schema, dict):
            out["json_schema"] = schema
        return out
    raise bad_request(
        f"response_format {value['type']!r} is not supported by Cohere.", param="response_format"
    )


def _thinking(effort: Any) -> dict | None:
    if effort is None:
        return None
    if effort == "none":
        return {"type": "disabled"}
    budget = THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        raise bad_request(f"reasoning_effort {effort!r} is not supported.", param="reasoning_effort")
    return {"type": "enabled", "token_budget": budget}
