"""Checks of Anthropic wire payloads against the official `anthropic` SDK's types.

The fake upstream runs every payload it sends, and every request body it receives, through
these, so neither the fake nor the adapter can drift from the real protocol unnoticed.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any

import typing_extensions
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from pydantic import TypeAdapter

from tests.fakes.sdk_fidelity import FidelityError, checked

# The SDK 2.x typings dropped the sampling parameters (the newest models refuse them), but the
# API still takes them for the models that accept sampling, and the adapter forwards them.
SAMPLING_KEYS = {"temperature": float, "top_p": float, "top_k": int}

# Error types the API documents (413 request_too_large) that the SDK's ErrorResponse lacks.
UNTYPED_ERROR_TYPES = frozenset({"request_too_large"})

_EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


# --------------------------------------------------------------------------------- responses


def checked_message(obj: dict[str, Any]) -> dict[str, Any]:
    checked(obj, Message, "Message")
    return obj


def checked_event(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("type") == "ping":
        # Not in the SDK's event union (the SDK skips pings); its whole shape is this.
        if obj != {"type": "ping"}:
            raise FidelityError(f"ping event with extra fields: {obj}")
        return obj
    if obj.get("type") == "error":
        return checked_error(obj)
    checked(obj, _EVENTS, f"RawMessageStreamEvent {obj.get('type')}")
    return obj


def checked_error(obj: dict[str, Any]) -> dict[str, Any]:
    probe = obj
    error = obj.get("error")
    if isinstance(error, dict) and error.get("type") in UNTYPED_ERROR_TYPES:
        # Documented by Anthropic but missing from the SDK's union: check the rest of the shape.
        probe = {**obj, "error": {**error, "type": "invalid_request_error"}}
    checked(probe, ErrorResponse, "ErrorResponse")
    return obj


# ---------------------------------------------------------------------------------- requests


def check_request(body: dict[str, Any]) -> None:
    """Raise FidelityError unless `body` fits the SDK's MessageCreateParams TypedDicts exactly."""
    params = MessageCreateParamsStreaming if body.get("stream") is True else MessageCreateParamsNonStreaming
    rest = dict(body)
    for key, kind in SAMPLING_KEYS.items():
        if key in rest:
            value = rest.pop(key)
            _check(value, kind, key)
    _check(rest, params, "body")


def _check(value: Any, tp: Any, path: str) -> None:
    """Does `value` (decoded JSON) fit the annotation `tp`? Unknown keys in a TypedDict fail."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return
    if origin is typing.Annotated or origin in (typing_extensions.Required, typing_extensions.NotRequired):
        _check(value, args[0], path)
    elif origin in (typing.Union, types.UnionType):
        _check_union(value, args, path)
    elif origin is typing.Literal:
        if value not in args:
            raise FidelityError(f"{path}: {value!r} is not one of {args}")
    elif typing_extensions.is_typeddict(tp):
        _check_typeddict(value, tp, path)
    elif origin in (list, collections.abc.Iterable, collections.abc.Sequence):
        if not isinstance(value, list):
            raise FidelityError(f"{path}: expected an array, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, args[0] if args else Any, f"{path}[{i}]")
    elif origin in (dict, collections.abc.Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise FidelityError(f"{path}: expected an object, got {type(value).__name__}")
    elif tp is type(None):
        if value is not None:
            raise FidelityError(f"{path}: expected null")
    elif tp is bool:
        if not isinstance(value, bool):
            raise FidelityError(f"{path}: expected a boolean, got {value!r}")
    elif tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise FidelityError(f"{path}: expected an integer, got {value!r}")
    elif tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise FidelityError(f"{path}: expected a number, got {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise FidelityError(f"{path}: expected a string, got {value!r}")
    else:
        # IO[bytes], PathLike and the like: types a JSON body can never hold.
        raise FidelityError(f"{path}: {value!r} cannot match {tp!r}")


def _check_union(value: Any, options: tuple[Any, ...], path: str) -> None:
    failures = []
    for option in options:
        try:
            _check(value, option, path)
        except FidelityError as exc:
            failures.append(str(exc))
        else:
            return
    # Report the option whose `type` tag matched, if any: that is the one that was meant.
    tagged = [
        f for f in failures if not any(m in f.split("\n")[0] for m in ("is not one of", "cannot match"))
    ]
    detail = "\n  ".join((tagged or failures)[:4])
    raise FidelityError(f"{path}: matches none of the SDK's types:\n  {detail}")


def _check_typeddict(value: Any, tp: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise FidelityError(f"{path}: expected an object ({tp.__name__}), got {type(value).__name__}")
    hints = typing_extensions.get_type_hints(tp, include_extras=True)
    for tag in ("type", "role"):
        # Tags first: a union member with another tag then fails for that reason alone.
        if tag in hints and tag in value:
            _check(value[tag], hints[tag], f"{path}.{tag}")
    unknown = set(value) - set(hints)
    if unknown:
        raise FidelityError(f"{path}: keys unknown to {tp.__name__}: {sorted(unknown)}")
    missing = _required_keys(tp, hints) - set(value)
    if missing:
        raise FidelityError(f"{path}: {tp.__name__} requires {sorted(missing)}")
    for key, item in value.items():
        _check(item, hints[key], f"{path}.{key}")


def _required_keys(tp: Any, hints: dict[str, Any]) -> set[str]:
    # The SDK's modules use `from __future__ import annotations`, so TypedDict sees Required[...]
    # as a string and leaves such keys out of __required_keys__: read the wrappers ourselves.
    marked = {k for k, h in hints.items() if typing.get_origin(h) is typing_extensions.Required}
    optional = {k for k, h in hints.items() if typing.get_origin(h) is typing_extensions.NotRequired}
    return (set(tp.__required_keys__) - optional) | marked
