"""OpenAI chat body → the JSON body of Gemini's `generateContent` (REST, camelCase).

Pure: no I/O. What Gemini cannot express raises `TranslationError`; the client answers it with a
400 naming the offending field instead of letting the upstream guess.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import urlsplit

from omnigate.providers.gemini.schema import SchemaError, to_gemini_schema


class TranslationError(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


# Thinking budgets (tokens) for OpenAI's reasoning_effort levels.
THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# mimetypes misses some image types on minimal systems (webp, heic), and this is the common case.
_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
}


def upstream_model(body: dict) -> str:
    """The Gemini model name: the route may keep the catalogue's `google/` prefix."""
    model = str(body.get("model") or "")
    for prefix in ("google/", "models/"):
        model = model.removeprefix(prefix)
    if not model:
        raise TranslationError("model: Required", "model")
    return model


def to_gemini(body: dict) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("messages: Expected an array", "messages")
    contents, system = _messages(messages)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = [{"functionDeclarations": tools}]
        tool_config = _tool_config(body.get("tool_choice"))
        if tool_config:
            out["toolConfig"] = {"functionCallingConfig": tool_config}
    generation = _generation_config(body)
    if generation:
        out["generationConfig"] = generation
    return out


# ---------------------------------------------------------------------------- messages


def _messages(messages: list) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    contents: list[dict] = []
    # Gemini matches a function response to its call by name, OpenAI by call id.
    call_names: dict[str, str] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise TranslationError(f"{where}: Expected an object", where)
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_text_parts(content, where))
        elif role == "user":
            _append(contents, "user", _user_parts(content, where))
        elif role == "assistant":
            parts = _text_parts(content, where)
            for j, call in enumerate(message.get("tool_calls") or ()):
                parts.append(_function_call(call, f"{where}.tool_calls[{j}]", call_names))
            _append(contents, "model", parts)
        elif role in ("tool", "function"):
            name = call_names.get(str(message.get("tool_call_id"))) or message.get("name")
            if not isinstance(name, str) or not name:
                raise TranslationError(
                    f"{where}.tool_call_id: no earlier assistant tool call has this id",
                    f"{where}.tool_call_id",
                )
            response = {"name": name, "response": _function_response(content, where)}
            _append(contents, "user", [{"functionResponse": response}])
        else:
            raise TranslationError(f"{where}.role: {role!r} is not a chat role", f"{where}.role")
    return contents, system


def _append(contents: list[dict], role: str, parts: list[dict]) -> None:
    # Gemini refuses empty turns, and parallel tool results must share one turn with each other.
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _text_parts(content: object, where: str) -> list[dict]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError(f"{where}.content: Expected a string or an array", f"{where}.content")
    parts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("text", "refusal"):
            text = part.get("text") if part["type"] == "text" else part.get("refusal")
            if isinstance(text, str) and text:
                parts.append({"text": text})
        else:
            raise TranslationError(f"{where}.content: only text parts are allowed here", f"{where}.content")
    return parts


def _user_parts(content: object, where: str) -> list[dict]:
    if not isinstance(content, list):
        return _text_parts(content, where)
    parts = []
    for k, part in enumerate(content):
        at = f"{where}.content[{k}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(_media_part(url, f"{at}.image_url.url"))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            fmt = str(audio.get("format") or "wav")
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": audio.get("data") or ""}})
        elif kind == "file" and isinstance((part.get("file") or {}).get("file_data"), str):
            parts.append(_media_part(part["file"]["file_data"], f"{at}.file.file_data"))
        else:
            raise TranslationError(f"{at}: part type {kind!r} cannot be sent to Gemini", at)
    return parts


def _media_part(url: object, where: str) -> dict:
    if not isinstance(url, str) or not url:
        raise TranslationError(f"{where}: Required", where)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        mime, _, encoding = header.partition(";")
        if not sep or encoding != "base64":
            raise TranslationError(f"{where}: data URLs must be base64-encoded", where)
        return {"inlineData": {"mimeType": mime or "image/jpeg", "data": data}}
    if url.startswith(("http://", "https://", "gs://")):
        return {"fileData": {"mimeType": _guess_mime(url), "fileUri": url}}
    raise TranslationError(f"{where}: expected an http(s) or data: URL", where)


def _guess_mime(url: str) -> str:
    path = urlsplit(url).path
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _IMAGE_TYPES.get(extension) or mimetypes.guess_type(path)[0] or "image/jpeg"


def _function_call(call: object, where: str, call_names: dict[str, str]) -> dict:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise TranslationError(f"{where}.function: Required", f"{where}.function")
    function = call["function"]
    if not isinstance(function.get("name"), str):
        raise TranslationError(f"{where}.function.name: Required", f"{where}.function")
    raw = function.get("arguments")
    try:
        args = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        args = None
    if not isinstance(args, dict):
        raise TranslationError(f"{where}.function.arguments: must be a JSON object", f"{where}.function")
    call_names[str(call.get("id"))] = function["name"]
    part: dict[str, Any] = {"functionCall": {"name": function["name"], "args": args}}
    # Gemini 3 refuses a replayed call without the signature its answer carried (see response.py).
    signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
    if isinstance(signature, str) and signature:
        part["thoughtSignature"] = signature
    return part


def _function_response(content: object, where: str) -> dict:
    if isinstance(content, list):
        text = "".join(p["text"] for p in _text_parts(content, where))
    else:
        text = content if isinstance(content, str) else json.dumps(content)
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    # `response` must be an object; Google's convention for anything else is the "output" key.
    return value if isinstance(value, dict) else {"output": value}


# ---------------------------------------------------------------------------- tools


def _tools(tools: object) -> list[dict]:
    if not tools:
        return []
    if not isinstance(tools, list):
        raise TranslationError("tools: Expected an array", "tools")
    declarations = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise TranslationError(f"tools[{i}]: only function tools can be sent to Gemini", f"tools[{i}]")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise TranslationError(f"tools[{i}].function.name: Required", f"tools[{i}]")
        declaration: dict[str, Any] = {"name": name}
        if function.get("description"):
            declaration["description"] = function["description"]
        params = function.get("parameters")
        if isinstance(params, dict):
            try:
                schema = to_gemini_schema(params)
            except SchemaError as exc:
                raise TranslationError(f"tools[{i}].function.parameters: {exc}", f"tools[{i}]") from exc
            # Gemini refuses an OBJECT without properties; a function without arguments has none.
            if schema.get("properties") or schema.get("type") not in (None, "OBJECT"):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def _tool_config(choice: object) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"mode": _TOOL_MODES[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        names = [(t.get("function") or {}).get("name") for t in allowed.get("tools") or ()]
        mode = _TOOL_MODES.get(allowed.get("mode") or "auto", "AUTO")
        return {"mode": mode, "allowedFunctionNames": [n for n in names if isinstance(n, str)]}
    raise TranslationError("tool_choice: not a value Gemini can express", "tool_choice")


# ---------------------------------------------------------------------------- generation


def _generation_config(body: dict) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for source, target in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("n", "candidateCount"),
    ):
        if body.get(source) is not None:
            config[target] = body[source]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int | float) and not isinstance(limit, bool):
        config["maxOutputTokens"] = int(limit)
    stop = body.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and stop:
        config["stopSequences"] = stop
    _response_format(body.get("response_format"), config)
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGETS[effort], "includeThoughts": True}
    return config


def _response_format(fmt: object, config: dict[str, Any]) -> None:
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return
    if fmt["type"] not in ("json_object", "json_schema"):
        raise TranslationError(f"response_format.type: {fmt['type']!r} is not supported", "response_format")
    config["responseMimeType"] = "application/json"
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
    if isinstance(schema, dict):
        # responseJsonSchema takes plain JSON schema, so unlike tool parameters it goes as it is.
        config["responseJsonSchema"] = schema
