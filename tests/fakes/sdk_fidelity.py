"""Checking a fake upstream's payloads against an official SDK's pydantic types.

Validation alone is not enough: the SDK models accept unknown fields (a misspelled key validates
and even survives model_dump), and lax mode coerces "1" into 1. `checked` validates strictly,
walks `model_extra` for unknown fields, and compares the dump with the payload, so any value the
SDK would read differently from what was sent is caught.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = ["FidelityError", "checked", "reject_extras"]


class FidelityError(AssertionError):
    """A payload does not match the official SDK's types."""


def reject_extras(value: object, path: str) -> None:
    if isinstance(value, BaseModel):
        if value.model_extra:
            raise FidelityError(f"{path}: fields unknown to the SDK: {sorted(value.model_extra)}")
        for name in value.model_fields_set:
            reject_extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            reject_extras(item, f"{path}[{i}]")


@cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def checked(obj: Any, schema: type[BaseModel] | TypeAdapter[Any], name: str) -> Any:
    """The SDK's parse of `obj` (a model class or a TypeAdapter names the type); FidelityError
    when the SDK rejects it, finds fields it does not know, or reads any value differently."""
    adapter = schema if isinstance(schema, TypeAdapter) else _adapter(schema)
    try:
        parsed = adapter.validate_python(obj, strict=True)
    except ValidationError as exc:
        raise FidelityError(f"{name} rejected the payload: {str(exc)[:2000]}") from exc
    reject_extras(parsed, name)
    dumped = adapter.dump_python(parsed, mode="json", exclude_unset=True)
    if dumped != obj:
        raise FidelityError(f"{name} round-trip differs:\nsent {obj}\nread {dumped}")
    return parsed
