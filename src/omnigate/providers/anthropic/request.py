"""OpenAI chat body → Anthropic `POST /v1/messages` body (pure; no I/O).

Only what Anthropic can express is translated. OpenAI-only knobs with no Anthropic counterpart
(seed, penalties, logit_bias, logprobs, prediction, audio output, web_search_options) are dropped:
the catalogue lets clients send them, and refusing them would break clients that always send them.
Input that would lose meaning if dropped (audio, several choices, legacy `function` messages) is
refused with a `TranslationError` instead.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

DEFAULT_MAX_TOKENS = 4096
# reasoning_effort → thinking budget; Anthropic's minimum budget is 1024.
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

_DATA_URL = re.compile(r"^data:(?P<media>[^;,]+)(?:;[^;,]*)*;base64,(?P<data>.*)$", re.S)


class TranslationError(ValueError):
    """The body asks for something Anthropic cannot do; the message says what, for the client."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def to_messages_body(body: dict[str, Any]) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat body (model already set to the upstream's name)."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise TranslationError("Anthropic models return one choice per request; n must be 1.", param="n")
    system, messages = _messages(body.get("messages") or [])
    instruction = _format_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)

    out: dict[str, Any] = {"model": body["model"], "max_tokens": _max_tokens(body), "messages": messages}
    if system:
        out["system"] = "\n\n".join(system)
    _sampling(body, out)
    _tools(body, out)
    _thinking(body, out)
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    if body.get("stream") is True:
        out["stream"] = True
    return out


# ---------------------------------------------------------------------------------------- params


def _max_tokens(body: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        # The rules type max_tokens as a number, so 100.0 can arrive; Anthropic wants an integer.
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
            return int(value)
    # Anthropic requires max_tokens where OpenAI makes it optional.
    return DEFAULT_MAX_TOKENS


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        # OpenAI accepts 0 to 2, Anthropic 0 to 1 and refuses more: clamp, so a client asking
        # for more randomness than Anthropic offers gets the most it offers, not an error.
        out["temperature"] = min(float(temperature), 1.0)
    for key in ("top_p", "top_k"):
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list):
        sequences = [s for s in stop if isinstance(s, str) and s]
        if sequences:
            out["stop_sequences"] = sequences


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            raise TranslationError("Only function tools can be sent to Anthropic models.", param="tools")
        spec: dict[str, Any] = {"name": function.get("name")}
        if function.get("description"):
            spec["description"] = function["description"]
        # A function without parameters takes none; Anthropic still wants an object schema.
        spec["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        tools.append(spec)
    if not tools:
        # tool_choice without tools means nothing to Anthropic (and it would refuse it).
        return
    out["tools"] = tools
    choice = body.get("tool_choice")
    translated: dict[str, Any]
    if choice == "none":
        translated = {"type": "none"}
    elif choice == "required":
        translated = {"type": "any"}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise TranslationError("tool_choice must name a function.", param="tool_choice")
        translated = {"type": "tool", "name": name}
    else:
        translated = {"type": "auto"}
    if body.get("parallel_tool_calls") is False and translated["type"] != "none":
        translated["disable_parallel_tool_use"] = True
    if choice is not None or "disable_parallel_tool_use" in translated:
        out["tool_choice"] = translated


def _thinking(body: dict[str, Any], out: dict[str, Any]) -> None:
    effort = body.get("reasoning_effort")
    # Other efforts ("minimal", "none") ask for no real thinking: none is enabled.
    budget = THINKING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        return
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if out["max_tokens"] <= budget:
        # Thinking counts toward max_tokens and Anthropic wants the budget below it: keep the
        # client's max_tokens for the answer on top of the thinking budget.
        out["max_tokens"] = budget + out["max_tokens"]


def _format_instruction(response_format: object) -> str | None:
    # Anthropic has no JSON mode like OpenAI's (native structured outputs exist only on recent
    # models, under another field), so the answer is steered with a system instruction instead:
    # it works on every model but is not a guarantee.
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "Respond with a single valid JSON object only: no prose, no code fences."
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            return "Respond with a single valid JSON object only: no prose, no code fences."
        return (
            "Respond with a single valid JSON value only (no prose, no code fences) that conforms to "
            f"this JSON Schema: {orjson.dumps(schema).decode()}"
        )
    return None


# -------------------------------------------------------------------------------------- messages


def _messages(items: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(items):
        if not isinstance(message, dict):
            raise TranslationError(f"messages[{i}] must be an object.", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            # Anthropic has one top-level system prompt; instructions given later in the
            # conversation join it, in order.
            text = _plain_text(message.get("content"))
            if text:
                system.append(text)
        elif role == "user":
            _append(turns, "user", _user_content(message.get("content"), i))
        elif role == "assistant":
            content = _assistant_content(message, i)
            if content:
                _append(turns, "assistant", content)
        elif role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _tool_result_content(message.get("content")),
            }
            _append(turns, "user", [block])
        else:
            raise TranslationError(
                f"messages[{i}]: role {role!r} cannot be sent to Anthropic models.", param="messages"
            )
    return system, turns


def _append(turns: list[dict[str, Any]], role: str, content: str | list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role.

    Anthropic wants user and assistant turns to alternate, and all the results of one assistant
    turn's tool calls in the single user turn that follows it (ahead of any other content).
    """
    if turns and turns[-1]["role"] == role:
        previous = turns[-1]
        previous["content"] = _blocks(previous["content"]) + _blocks(content)
        return
    turns.append({"role": role, "content": content})


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _plain_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and p.get("text")
        )
    return ""


def _user_content(content: object, i: int) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TranslationError(f"messages[{i}].content must be a string or an array.", param="messages")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            # Anthropic refuses empty text blocks; an empty part carries nothing anyway.
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url") or {}, i))
        elif kind == "image" and isinstance(part.get("source"), dict):
            # The catalogue also accepts Anthropic's own image part; it needs no translation.
            blocks.append({"type": "image", "source": part["source"]})
        elif kind == "file":
            blocks.append(_document(part.get("file") or {}, i))
        else:
            raise TranslationError(
                f"messages[{i}]: content parts of type {kind!r} cannot be sent to Anthropic models.",
                param="messages",
            )
    return blocks


def _image(image_url: dict[str, Any], i: int) -> dict[str, Any]:
    url = image_url.get("url")
    if not isinstance(url, str):
        raise TranslationError(f"messages[{i}]: image_url.url must be a string.", param="messages")
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = _data_url(url, i)
    if media_type not in IMAGE_MEDIA_TYPES:
        raise TranslationError(
            f"messages[{i}]: Anthropic models accept JPEG, PNG, GIF and WebP images, not {media_type!r}.",
            param="messages",
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document(file: dict[str, Any], i: int) -> dict[str, Any]:
    data_url = file.get("file_data")
    if not isinstance(data_url, str):
        raise TranslationError(
            f"messages[{i}]: files must be sent inline as file_data (a data: URL).", param="messages"
        )
    media_type, data = _data_url(data_url, i)
    if media_type != "application/pdf":
        raise TranslationError(
            f"messages[{i}]: Anthropic models accept PDF files, not {media_type!r}.", param="messages"
        )
    return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _data_url(url: str, i: int) -> tuple[str, str]:
    match = _DATA_URL.match(url)
    if match is None:
        raise TranslationError(
            f"messages[{i}]: expected an https URL or a base64 data: URL with a media type.",
            param="messages",
        )
    data = match["data"]
    return match["media"].lower(), data


def _assistant_content(message: dict[str, Any], i: int) -> str | list[dict[str, Any]]:
    content = message.get("content")
    calls = message.get("tool_calls") or []
    if isinstance(content, str) and not calls:
        return content
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str) and content:
        blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            # A refusal the client echoes back is still what the assistant said.
            text = part.get("text") if part.get("type") == "text" else part.get("refusal")
            if isinstance(text, str) and text:
                blocks.append({"type": "text", "text": text})
    for call in calls:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _arguments(function.get("arguments"), i),
            }
        )
    return blocks


def _arguments(arguments: object, i: int) -> dict[str, Any]:
    # Models calling a function without parameters often send "" rather than "{}".
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str | bytes) else arguments
    except orjson.JSONDecodeError as exc:
        raise TranslationError(
            f"messages[{i}]: tool call arguments must be a JSON object, got invalid JSON.", param="messages"
        ) from exc
    if not isinstance(parsed, dict):
        raise TranslationError(f"messages[{i}]: tool call arguments must be a JSON object.", param="messages")
    return parsed


def _tool_result_content(content: object) -> str | list[dict[str, Any]]:
    if isinstance(content, list):
        return [
            {"type": "text", "text": p["text"]}
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and p.get("text")
        ]
    return content if isinstance(content, str) else ""
