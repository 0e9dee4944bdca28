"""The service's `tts` and `stt` bodies → Deepgram's requests.

Deepgram takes every option in the query string (booleans as `true`/`false`, a list as the
parameter repeated); the body is only what is spoken (`{"text"}`) or heard (the audio's bytes,
or `{"url"}` for Deepgram to fetch itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from omnigate.errors import ApiError
from omnigate.providers.media import Upload

SPEAK_PATH = "/v1/speak"
LISTEN_PATH = "/v1/listen"

# The service's names for options that Deepgram spells differently.
_RENAMED = {"multi_channel": "multichannel"}
# With these Deepgram answers later, at an address the caller picks: the gateway would hand
# back no answer and could not see what to charge.
_DEFERRED = ("callback", "callback_method")


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    query: list[tuple[str, str]]
    body: bytes
    content_type: str


def speak(body: dict) -> Request:
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "`text` must be a non-empty string.", param="text")
    options = {k: v for k, v in body.items() if k != "text"}
    return Request(SPEAK_PATH, query(options), orjson.dumps({"text": text}), "application/json")


def listen(body: dict, audio: Upload | None) -> Request:
    options = {k: v for k, v in body.items() if k != "url"}
    url = body.get("url")
    if audio is not None and url:
        raise ApiError(400, "Send either an `audio` file or a `url`, not both.", param="url")
    if audio is not None:
        return Request(LISTEN_PATH, query(options), audio.data, _audio_type(audio.content_type))
    if isinstance(url, str) and url:
        return Request(LISTEN_PATH, query(options), orjson.dumps({"url": url}), "application/json")
    raise ApiError(400, "Send the audio as a file `audio`, or its address as `url`.", param="url")


def query(options: dict) -> list[tuple[str, str]]:
    """The query parameters for the options of a body (`model` among them)."""
    pairs = []
    for key, value in options.items():
        if value is None:
            continue
        if key in _DEFERRED:
            raise ApiError(
                400, f"`{key}` is not supported: the gateway answers with the result itself.", param=key
            )
        name = _RENAMED.get(key, key)
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, _text(key, item)))
    return pairs


def _text(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise ApiError(400, f"`{key}` must be a string, number or boolean, or a list of them.", param=key)


def _audio_type(content_type: str) -> str:
    # Deepgram reads a JSON body as `{"url"}`: a file must never be sent as one.
    mime = content_type.split(";", 1)[0].strip().lower()
    return content_type if mime and mime != "application/json" else "application/octet-stream"
