"""The smallest request body each catalogue model's rules accept, and the route it goes to.

Catalogue-wide tests send one body per model: `minimal_request` builds it from the model's own
rule set (catalog/data/catalog.json, checked by catalog/rules.py), filling only the required
fields, each with a plausible value of its schema. The values are realistic on purpose (a prompt,
an image URL, a first enum member), so an upstream fake can answer them, not just the validator.

The JSON-schema keywords honoured are those the rules validator checks: `type` (first non-null
type), `enum`/`const` (first member), `anyOf`/`oneOf` (first branch that is not just null),
`allOf` (every part), `properties`/`required`, `items`, `minimum`/`maximum`,
`minLength`/`maxLength` and `minItems`/`maxItems`. The catalogue uses no `pattern`, `format`,
`multipleOf` or exclusive bounds, and the validator checks none of them.
"""

from __future__ import annotations

import math
from typing import Any, Final

from omnigate.catalog.loader import Model

__all__ = [
    "ROUTE_BY_TYPE",
    "TASK_TYPES",
    "minimal_request",
    "route_for",
    "upload_fields",
]

ROUTE_BY_TYPE: Final[dict[str, str]] = {
    "chat-completion": "/v1/chat/completions",
    "responses": "/v1/responses",
    "embedding": "/v1/embeddings",
    "image": "/v1/images/generations",  # triposr (3D) too
    "tts": "/v1/tts",
    # The legacy synchronous route: a JSON `url`, or multipart with the file in `audio`.
    "stt": "/v1/stt",
    "document": "/v1/ocr",
}
"""The public route of each synchronous model type."""

TASK_TYPES: Final = frozenset({"video", "audio"})
"""Types served by the asynchronous /v2 task routes (video, music): no route here."""

TEXT: Final = "a red cube"
CHAT_MESSAGES: Final = ({"role": "user", "content": "Hi"},)
EMBEDDING_INPUT: Final = "hello"
IMAGE_URL: Final = "https://example.com/cat.png"
AUDIO_URL: Final = "https://example.com/speech.mp3"
VIDEO_URL: Final = "https://example.com/clip.mp4"
DOCUMENT_URL: Final = "https://example.com/paper.pdf"
STT_URL: Final = "https://example.com/speech.wav"
"""What an STT request points at when the model takes no uploaded file (its rules do not name
the URL, the route reads it)."""

# A multer file record (`{fieldname, originalname, encoding, mimetype, ...}`) is how the
# service's rules describe an uploaded file; these are the values of an uploaded WAV.
_UPLOAD: Final[dict[str, str]] = {
    "fieldname": "audio",
    "originalname": "speech.wav",
    "encoding": "7bit",
    "mimetype": "audio/wav",
}
_UPLOAD_KEYS: Final = frozenset({"originalname", "mimetype"})

# Strings named after what they hold; anything else gets TEXT.
_NAMED_STRINGS: Final[dict[str, str]] = {
    "input": EMBEDDING_INPUT,
    "script": "Speaker 1: Hi",
}
# Fields that hold media by name though their name says no "url" (the schema says string).
_MEDIA_NAMES: Final = frozenset({"image", "image_list", "document"})


def minimal_request(model: Model) -> dict[str, Any]:
    """The smallest body `model.validate` accepts: `model` and each required field.

    Chat models get one user message. Where the route needs an input the rules do not name, it
    is added (the rules would accept the body, but it would ask for nothing): a `url` for STT
    models that take no uploaded file, a `text` for TTS models without a rule set.
    """
    body: dict[str, Any] = {}
    if model.rules is not None:
        value = _value("", model.rules)
        if isinstance(value, dict):
            body = value
    body["model"] = model.id
    if model.type == "stt" and not upload_fields(model):
        body["url"] = STT_URL
    if model.type == "tts" and "text" not in body and "script" not in body:
        body["text"] = TEXT
    return body


def route_for(model: Model) -> str | None:
    """The public route a model is called on; None for the /v2 task types (and unknown types)."""
    return ROUTE_BY_TYPE.get(model.type)


def upload_fields(model: Model) -> tuple[str, ...]:
    """Top-level fields the rules describe as an uploaded file (a multer record): a client sends
    these as multipart files, not JSON (AssemblyAI's `audio`, say)."""
    properties = (model.rules or {}).get("properties") or {}
    return tuple(
        name
        for name, schema in properties.items()
        if isinstance(schema, dict) and set(schema.get("properties") or ()) >= _UPLOAD_KEYS
    )


def _value(name: str, schema: dict[str, Any]) -> Any:
    """A small valid value of `schema` for a field called `name` (the name picks the flavour:
    a URL for `image_url`, the WAV's metadata for a multer record, ...)."""
    if "const" in schema:
        return schema["const"]
    enum = [v for v in schema.get("enum") or () if v is not None]
    if enum:
        return enum[0]
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_value(name, part))
        return merged
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or () if _types(b) != ["null"]]
        if branches:
            return _value(name, branches[0])
    if name == "messages":
        return [dict(m) for m in CHAT_MESSAGES]
    kind = next((t for t in _types(schema) if t != "null"), "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        if set(properties) >= _UPLOAD_KEYS:
            return {k: v for k, v in _UPLOAD.items() if k in properties}
        # A sibling `type` tag ("video", "image") says what a `url` next to it points at.
        tag = properties.get("type", {}).get("enum", [None])[0]
        prefix = f"{tag}_" if isinstance(tag, str) else ""
        return {
            field: _value(prefix + field if field.endswith("url") else field, properties.get(field) or {})
            for field in schema.get("required") or ()
        }
    if kind == "array":
        # One element even where none is required: an empty `image_urls` is valid but useless.
        count = min(max(schema.get("minItems", 1), 1), schema.get("maxItems", 1))
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [_value(name, items) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return _string(name, schema)


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return list(declared)
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["null"] if schema == {"nullable": True} else []


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """The minimum; else 1, or the maximum where that is below 1."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        return math.ceil(low) if integer else low
    if high is not None and high < 1:
        return math.floor(high) if integer else high
    return 1


def _string(name: str, schema: dict[str, Any]) -> str:
    lowered = name.lower()
    if "url" in lowered or "uri" in lowered or lowered.endswith("_image") or lowered in _MEDIA_NAMES:
        text = _url_for(lowered)
    else:
        text = _NAMED_STRINGS.get(lowered, TEXT)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and len(text) < low:
        text = (text + " ") * (low // (len(text) + 1) + 1)
    if high is not None:
        text = text[:high]
    return text


def _url_for(name: str) -> str:
    if "audio" in name or "voice" in name:
        return AUDIO_URL
    if "video" in name:
        return VIDEO_URL
    if "document" in name:
        return DOCUMENT_URL
    return IMAGE_URL
