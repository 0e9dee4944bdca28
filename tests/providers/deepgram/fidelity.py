"""Checks of the fake Deepgram's traffic against the official `deepgram-sdk`.

Requests: every query parameter must be one the SDK sends for that route, with a value of the
type it declares (booleans as true/false, numbers that parse, the members of its closed enums),
repeated only where the SDK sends lists. Answers: transcripts parse as the SDK's ListenV1Response
with no field it does not know and no value it reads differently; error bodies as its two error
dialects.
"""

from __future__ import annotations

import copy
import typing
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from deepgram.listen.v1.media.raw_client import AsyncRawMediaClient
from deepgram.speak.v1.audio.raw_client import AsyncRawAudioClient
from deepgram.types import ErrorResponseLegacyError, ErrorResponseModernError, ListenV1Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.fakes.sdk_fidelity import FidelityError, checked, reject_extras

__all__ = [
    "SPEAK_MODELS",
    "FidelityError",
    "check_error",
    "check_listen_query",
    "check_speak_query",
    "check_transcript",
]

_NOT_QUERY = {"text", "url", "request", "request_options", "return"}


def _params(method: Any) -> dict[str, Any]:
    return {k: v for k, v in typing.get_type_hints(method).items() if k not in _NOT_QUERY}


SPEAK_PARAMS = _params(AsyncRawAudioClient.generate)
# `diarize_version` is the older API's parameter, which the service's rules still know; the SDK
# has moved on to `diarize_model`.
LISTEN_PARAMS = {**_params(AsyncRawMediaClient.transcribe_file), "diarize_version": str | None}
# Enums whose SDK literal lists only some of the values the API takes (models are added often:
# nova-2-phonecall and the whisper models are not in it).
_OPEN = {"model"}


def _members(annotation: Any) -> list[Any]:
    """The types and literal values a (possibly nested) union admits."""
    found = []
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            found.extend(typing.get_args(arg))
        elif typing.get_args(arg) and typing.get_origin(arg) is not Sequence:
            found.extend(_members(arg))
        else:
            found.append(arg)
    return found


# The voices the SDK lists are the ones Deepgram serves.
SPEAK_MODELS = frozenset(m for m in _members(SPEAK_PARAMS["model"]) if isinstance(m, str))


def _check_value(name: str, value: str, annotation: Any) -> None:
    members = _members(annotation)
    if bool in members:
        if value not in ("true", "false"):
            raise FidelityError(f"`{name}` is a boolean; got {value!r}")
    elif float in members:
        try:
            float(value)
        except ValueError:
            raise FidelityError(f"`{name}` is a number; got {value!r}") from None
    literals = [m for m in members if isinstance(m, str)]
    if literals and name not in _OPEN and value not in literals:
        raise FidelityError(f"`{name}` is one of {literals}; got {value!r}")


def _check_query(pairs: list[tuple[str, str]], params: dict[str, Any], route: str) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        grouped[name].append(value)
    for name, values in grouped.items():
        if name not in params:
            raise FidelityError(f"{route}: `{name}` is not a parameter the SDK sends")
        repeatable = any(typing.get_origin(m) is Sequence for m in typing.get_args(params[name]))
        if len(values) > 1 and not repeatable:
            raise FidelityError(f"{route}: `{name}` is sent once, got {values}")
        for value in values:
            _check_value(name, value, params[name])
    return dict(grouped)


def check_speak_query(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The parameters of a POST /v1/speak, grouped by name."""
    return _check_query(pairs, SPEAK_PARAMS, "/v1/speak")


def check_listen_query(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The parameters of a POST /v1/listen, grouped by name."""
    return _check_query(pairs, LISTEN_PARAMS, "/v1/listen")


_TRANSCRIPT = TypeAdapter(ListenV1Response)


def check_transcript(body: dict[str, Any]) -> dict[str, Any]:
    """A listen answer as the SDK reads it; returns it unchanged.

    Not strict mode: the SDK's datetime refuses strings there. The round trip catches what
    lax mode would coerce; only `created` is compared as the instant it names, since its
    fraction of a second may be written with fewer digits than pydantic writes.
    """
    try:
        parsed = _TRANSCRIPT.validate_python(body)
    except ValidationError as exc:
        raise FidelityError(f"ListenV1Response rejected the payload: {str(exc)[:2000]}") from exc
    reject_extras(parsed, "ListenV1Response")
    dumped = _TRANSCRIPT.dump_python(parsed, mode="json", exclude_unset=True)
    sent = copy.deepcopy(body)
    for side in (sent, dumped):
        side["metadata"]["created"] = datetime.fromisoformat(side["metadata"]["created"])
    if dumped != sent:
        raise FidelityError(f"ListenV1Response round-trip differs:\nsent {body}\nread {dumped}")
    return body


def check_error(body: dict[str, Any]) -> dict[str, Any]:
    """An error body in the legacy (`err_code`) or modern (`category`) dialect."""
    model: type[BaseModel] = ErrorResponseLegacyError if "err_code" in body else ErrorResponseModernError
    checked(body, model, model.__name__)
    return body
