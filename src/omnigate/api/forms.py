"""Multipart bodies (image edits, audio to transcribe): fields and files, within size limits.

Parts are read into memory as they arrive, each file within its family's limit (413 past it), so
nothing is ever written to a temporary file. Form values are text; `coerce` turns them into the
types the model's rules expect (numbers, booleans, arrays), so the same rules check both kinds
of body.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from omnigate.api.common import read_json
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.providers.media import Upload

# Text fields of a form, together; files have their own limits.
MAX_FIELDS_BYTES = 1024 * 1024


async def read_body(request: web.Request, files: dict[str, int]) -> tuple[dict[str, Any], list[Upload], int]:
    """A JSON body, or a multipart one with the named file fields (each up to its limit in bytes).
    Returns the fields, the files and the body's size."""
    if request.content_type != "multipart/form-data":
        body, raw = await read_json(request)
        return body, [], len(raw)
    return await read_form(request, files)


async def read_form(request: web.Request, files: dict[str, int]) -> tuple[dict[str, Any], list[Upload], int]:
    try:
        return await _read_form(request, files)
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        # A malformed body: aiohttp's parser says what it could not read.
        reason = getattr(exc, "message", None) or str(exc)
        raise bad_request(f"{BODY_VALIDATION} The multipart body cannot be read: {reason}") from exc


async def _read_form(request: web.Request, files: dict[str, int]) -> tuple[dict[str, Any], list[Upload], int]:
    reader = await request.multipart()
    fields: dict[str, Any] = {}
    uploads: list[Upload] = []
    text_size = size = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        name = part.name.removesuffix("[]")
        if part.filename is not None:
            if name not in files:
                raise bad_request(f"{BODY_VALIDATION} {name}: this route takes no file here", param=name)
            data = await _read_part(part, files[name], name)
            size += len(data)
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads.append(Upload(name, part.filename, content_type, data))
            continue
        value = (await _read_part(part, MAX_FIELDS_BYTES - text_size, name)).decode("utf-8", errors="replace")
        text_size += len(value)
        if name in fields or part.name.endswith("[]"):
            previous = fields.get(name, [])
            fields[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            fields[name] = value
    return fields, uploads, size + text_size


async def _read_part(part: BodyPartReader, limit: int, name: str) -> bytes:
    chunks = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            message = f"{name}: larger than the limit of {limit} bytes"
            raise ApiError(413, message, code="body_too_large", param=name)
        chunks.append(chunk)
    return b"".join(chunks)


def coerce(model: Model, body: dict[str, Any]) -> None:
    """Form values as the types the model's rules give them ("4" → 4, "true" → True, a JSON
    array or object → its value); what does not convert is left for the rules to refuse."""
    properties = (model.rules or {}).get("properties") or {}
    for name, value in list(body.items()):
        if not isinstance(value, str) or name == "model":
            continue
        kinds = _types(properties.get(name) or {})
        body[name] = _convert(value, kinds)


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, dict):
                found |= _types(option)
    return found


def _convert(value: str, kinds: set[str]) -> Any:
    if "string" in kinds or not kinds:
        return value
    if "boolean" in kinds and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "integer" in kinds:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            pass
    if kinds & {"array", "object"}:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return value
