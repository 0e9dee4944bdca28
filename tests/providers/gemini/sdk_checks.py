"""Fidelity checks of Gemini REST payloads against the official `google-genai` SDK types.

The SDK's models forbid unknown fields but also accept snake_case names (populate_by_name), which
the wire format never uses; so each payload is parsed from its JSON and dumped back by alias, and
must come back identical: an unknown key fails validation, a misspelled case or a value the SDK
reads differently fails the comparison.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.genai import types
from pydantic import BaseModel, ValidationError

__all__ = ["FidelityError", "check_request", "check_response", "check_sdk"]


class FidelityError(AssertionError):
    """A payload does not match the official SDK types (or the REST API's own rules)."""


# The fields of the REST `GenerateContentRequest` body (the model is in the URL).
_REQUEST_FIELDS: dict[str, type[BaseModel] | None] = {
    "contents": types.Content,
    "systemInstruction": types.Content,
    "tools": types.Tool,
    "toolConfig": types.ToolConfig,
    "safetySettings": types.SafetySetting,
    "generationConfig": types.GenerationConfig,
    "cachedContent": None,
}
_LISTS = {"contents", "tools", "safetySettings"}
# The REST `Schema` fields the API documents for function parameters. The SDK's Schema also knows
# Vertex-only keys (additionalProperties, defs, ref) that the Gemini API refuses there.
_SCHEMA_KEYS = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
}
_SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}


def check_sdk(obj: Any, model: type[BaseModel], where: str, *, camel_only: bool = True) -> None:
    try:
        parsed = model.model_validate_json(orjson.dumps(obj))
    except ValidationError as exc:
        raise FidelityError(f"{where}: {model.__name__} rejects it: {exc}") from exc
    if not camel_only:
        return
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if dumped != obj:
        raise FidelityError(f"{where}: {model.__name__} reads it differently:\nsent {obj}\nread {dumped}")


def check_response(obj: dict[str, Any]) -> dict[str, Any]:
    check_sdk(obj, types.GenerateContentResponse, "GenerateContentResponse")
    return obj


def check_request(body: Any, *, camel_only: bool = True) -> None:
    """Raise FidelityError where the API would refuse `body`. The API itself also takes snake_case
    names (the official SDK sends some); `camel_only` holds our adapter to the documented form."""
    if not isinstance(body, dict):
        raise FidelityError("the request body is not a JSON object")
    for key, value in body.items():
        if key not in _REQUEST_FIELDS:
            raise FidelityError(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        model = _REQUEST_FIELDS[key]
        if model is None:
            continue
        if key in _LISTS:
            if not isinstance(value, list):
                raise FidelityError(f"{key}: expected a list")
            for i, item in enumerate(value):
                check_sdk(item, model, f"{key}[{i}]", camel_only=camel_only)
        else:
            check_sdk(value, model, key, camel_only=camel_only)
    for i, content in enumerate(body.get("contents") or ()):
        if content.get("role") not in ("user", "model"):
            raise FidelityError(f"contents[{i}].role must be 'user' or 'model', got {content.get('role')!r}")
        if not content.get("parts"):
            raise FidelityError(f"contents[{i}].parts must not be empty")
    for i, tool in enumerate(body.get("tools") or ()):
        for j, declaration in enumerate(tool.get("functionDeclarations") or ()):
            if "parameters" in declaration:
                _check_schema(declaration["parameters"], f"tools[{i}].functionDeclarations[{j}].parameters")


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise FidelityError(f"{where}: expected an object")
    unknown = set(schema) - _SCHEMA_KEYS
    if unknown:
        raise FidelityError(f'{where}: Unknown name "{sorted(unknown)[0]}": Cannot find field.')
    if "type" in schema and schema["type"] not in _SCHEMA_TYPES:
        raise FidelityError(f"{where}.type: invalid value {schema['type']!r}")
    if schema.get("type") == "OBJECT" and "properties" in schema and not schema["properties"]:
        raise FidelityError(f"{where}.properties: should be non-empty for OBJECT type")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties.{name}")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")
    for k, sub in enumerate(schema.get("anyOf") or ()):
        _check_schema(sub, f"{where}.anyOf[{k}]")
