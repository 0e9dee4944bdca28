"""JSON schema (as OpenAI tools carry it) → the OpenAPI subset Gemini's `Schema` accepts.

Gemini refuses the request outright when a function declaration's schema holds a key it does not
know (`additionalProperties`, `$schema`, `strict`, ...), so everything outside the subset is
dropped and local `$ref`s are inlined rather than passed on.
"""

from __future__ import annotations

from typing import Any


class SchemaError(ValueError):
    """A schema Gemini cannot express (a recursive `$ref`, say)."""


# Keys the REST `Schema` object documents; every other key makes the API answer 400.
_PASSED = frozenset(
    {
        "title",
        "description",
        "nullable",
        "maxItems",
        "minItems",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "default",
        "minimum",
        "maximum",
        "propertyOrdering",
    }
)
_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
# Formats Gemini accepts per type; others are refused (older models) or ignored, so they go.
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
# Deep enough for any real tool schema; stops a self-referencing `$ref` from looping forever.
_MAX_DEPTH = 32


def to_gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _convert(schema, defs, 0)


def _convert(schema: Any, defs: dict[str, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise SchemaError("the schema nests too deeply (or its $ref is recursive)")
    if not isinstance(schema, dict):
        # `true` / `{}` mean "anything"; Gemini has no such type, a string is the loosest fit.
        return {"type": "STRING"}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
        if target is None:
            raise SchemaError(f"cannot resolve $ref {ref!r}")
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _convert(merged, defs, depth + 1)

    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _PASSED}
    variants = schema.get("anyOf") or schema.get("oneOf")
    all_of = schema.get("allOf")
    if not variants and isinstance(all_of, list) and len(all_of) == 1:
        # A lone allOf is how pydantic wraps a referenced model with a description.
        return {**_convert(all_of[0], defs, depth + 1), **out}

    types = _types(schema)
    if "null" in types:
        out["nullable"] = True
        types = [t for t in types if t != "null"]
    if isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(kept) < len(variants):
            out["nullable"] = True
        if len(kept) == 1:
            return {**_convert(kept[0], defs, depth + 1), **out}
        out["anyOf"] = [_convert(v, defs, depth + 1) for v in kept]
    elif len(types) > 1:
        out["anyOf"] = [{"type": t.upper()} for t in types]
    elif types:
        out["type"] = types[0].upper()
    elif isinstance(schema.get("properties"), dict):
        out["type"] = "OBJECT"
    elif "items" in schema:
        out["type"] = "ARRAY"

    _copy_enum(schema, out)
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    properties = schema.get("properties")
    if isinstance(properties, dict):
        out["properties"] = {name: _convert(sub, defs, depth + 1) for name, sub in properties.items()}
        required = schema.get("required")
        if isinstance(required, list):
            # Gemini refuses a `required` name that is not among the properties.
            out["required"] = [r for r in required if r in properties]
    items = schema.get("items")
    if isinstance(items, list):  # tuple validation: Gemini only knows one item schema
        items = items[0] if items else None
    if items is not None:
        out["items"] = _convert(items, defs, depth + 1)
    return out


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        kind = [kind]
    if not isinstance(kind, list):
        return []
    return [t.lower() for t in kind if isinstance(t, str) and t.lower() in _TYPES]


def _copy_enum(schema: dict[str, Any], out: dict[str, Any]) -> None:
    values = schema.get("enum")
    if "const" in schema:
        values = [schema["const"]]
    # Gemini enums are string-only; a numeric enum would be refused, so it is left unconstrained.
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        out["enum"] = values
        out.setdefault("type", "STRING")
