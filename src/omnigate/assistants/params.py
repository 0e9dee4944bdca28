"""Checking the fields of Assistants API bodies: each bad one is a 400 that names it, with OpenAI's
limits (names 256 characters, descriptions 512, instructions 256,000, 128 tools, 16 metadata
pairs with keys of 64 and values of 512 characters)."""

from __future__ import annotations

from typing import Any

from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.store.assistants import Page

# Tools this gateway runs. code_interpreter needs a sandbox it does not have: refused by name.
TOOL_TYPES = ("function", "file_search")
MAX_TOOLS = 128
TRUNCATION_TYPES = ("auto", "last_messages")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")


def invalid(param: str, detail: str) -> ApiError:
    return bad_request(f"{BODY_VALIDATION} {param}: {detail}", param=param, code="body_validation")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {list: "array", dict: "object", str: "string"}.get(type(value), type(value).__name__)


def text(body: dict, name: str, *, most: int, where: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(where + name, f"Expected string, received {_kind(value)}")
    if len(value) > most:
        raise invalid(where + name, f"Expected at most {most} characters, got {len(value)}")
    return value


def number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, f"Expected number, received {_kind(value)}")
    if not low <= value <= high:
        raise invalid(name, f"Expected a number from {low:g} to {high:g}, got {value}")
    return value


def integer(body: dict, name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"Expected integer, received {_kind(value)}")
    if value < low:
        raise invalid(name, f"Expected an integer of at least {low}, got {value}")
    return value


def boolean(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(name, f"Expected boolean, received {_kind(value)}")
    return value


def metadata(body: dict, where: str = "") -> dict[str, str] | None:
    value = body.get("metadata")
    param = where + "metadata"
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(param, f"Expected object, received {_kind(value)}")
    if len(value) > 16:
        raise invalid(param, f"Expected at most 16 pairs, got {len(value)}")
    for key, item in value.items():
        if len(key) > 64:
            raise invalid(f"{param}.{key}", "Keys are at most 64 characters")
        if not isinstance(item, str) or len(item) > 512:
            raise invalid(f"{param}.{key}", "Expected a string of at most 512 characters")
    return value


def tools(body: dict) -> list[dict[str, Any]] | None:
    value = body.get("tools")
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid("tools", f"Expected array, received {_kind(value)}")
    if len(value) > MAX_TOOLS:
        raise invalid("tools", f"Expected at most {MAX_TOOLS} tools, got {len(value)}")
    out = []
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid(where, f"Expected object, received {_kind(tool)}")
        kind = tool.get("type")
        if kind == "code_interpreter":
            raise invalid(
                f"{where}.type", "code_interpreter is not supported by this gateway (it runs no code)"
            )
        if kind not in TOOL_TYPES:
            raise invalid(f"{where}.type", f"Expected one of {', '.join(TOOL_TYPES)}, got {kind!r}")
        if kind == "function":
            out.append({"type": "function", "function": _function(tool.get("function"), f"{where}.function")})
        else:
            out.append({"type": "file_search"})
    return out


def _function(function: object, where: str) -> dict[str, Any]:
    if not isinstance(function, dict):
        raise invalid(where, f"Expected object, received {_kind(function)}")
    name = function.get("name")
    if not isinstance(name, str) or not name or len(name) > 64:
        raise invalid(f"{where}.name", "Expected a name of 1 to 64 characters")
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise invalid(f"{where}.parameters", f"Expected object, received {_kind(parameters)}")
    text(function, "description", most=1024, where=where + ".")
    out: dict[str, Any] = {"name": name, "description": function.get("description"), "parameters": parameters}
    if function.get("strict") is not None:
        out["strict"] = bool(function["strict"])
    return {k: v for k, v in out.items() if v is not None}


def reasoning_effort(body: dict) -> str | None:
    value = body.get("reasoning_effort")
    if value is not None and value not in REASONING_EFFORTS:
        raise invalid("reasoning_effort", f"Expected one of {', '.join(REASONING_EFFORTS)}, got {value!r}")
    return value


def response_format(body: dict) -> Any:
    value = body.get("response_format")
    if value is None or value == "auto":
        return value
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise invalid(
            "response_format", "Expected 'auto' or an object of type text, json_object or json_schema"
        )
    if value["type"] == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise invalid("response_format.json_schema", "Required for type json_schema")
    return value


def tool_choice(body: dict, declared: list[dict[str, Any]]) -> Any:
    value = body.get("tool_choice")
    if value is None or value in ("none", "auto", "required"):
        return value
    if not isinstance(value, dict) or value.get("type") not in ("function", "file_search"):
        raise invalid("tool_choice", "Expected none, auto, required or {type: function, function: {name}}")
    if value["type"] == "function":
        name = (value.get("function") or {}).get("name")
        names = [t["function"]["name"] for t in declared if t["type"] == "function"]
        if name not in names:
            raise invalid("tool_choice.function.name", f"{name!r} is not one of the run's function tools")
    return value


def truncation(body: dict) -> dict[str, Any] | None:
    value = body.get("truncation_strategy")
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in TRUNCATION_TYPES:
        raise invalid("truncation_strategy.type", "Expected auto or last_messages")
    last = value.get("last_messages")
    if value["type"] == "last_messages" and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise invalid("truncation_strategy.last_messages", "Expected an integer of at least 1")
    return {"type": value["type"], "last_messages": last if value["type"] == "last_messages" else None}


def tool_resources(body: dict) -> dict[str, Any] | None:
    """`file_search.file_ids` names files to search; vector stores are not served here."""
    value = body.get("tool_resources")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("tool_resources", f"Expected object, received {_kind(value)}")
    search = value.get("file_search")
    if search is None:
        return {}
    if not isinstance(search, dict):
        raise invalid("tool_resources.file_search", f"Expected object, received {_kind(search)}")
    if search.get("vector_store_ids") or search.get("vector_stores"):
        raise invalid(
            "tool_resources.file_search.vector_store_ids",
            "vector stores are not served by this gateway; name uploaded files in file_ids instead",
        )
    ids = search.get("file_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise invalid("tool_resources.file_search.file_ids", "Expected an array of file ids")
    return {"file_search": {"file_ids": ids}}


def page(query: Any) -> Page:
    """The paging of a list route's query: limit 1-100 (20), order asc|desc (desc), after, before."""
    raw = query.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError as exc:
        raise invalid("limit", f"Expected an integer, got {raw!r}") from exc
    if not 1 <= limit <= 100:
        raise invalid("limit", f"Expected an integer from 1 to 100, got {limit}")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid("order", f"Expected asc or desc, got {order!r}")
    return Page(limit, order, query.get("after") or None, query.get("before") or None)
