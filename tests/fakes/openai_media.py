"""The fake upstream's media endpoints: OpenAI's images, speech and transcription APIs on the wire.

Deterministic behaviour (tests may rely on it):

* ``POST /v1/images/generations`` (JSON) and ``/v1/images/edits`` (multipart: ``image`` or
  ``image[]`` files, PNG/JPEG/WebP, and an optional PNG ``mask``) answer ``n`` (default 1) real
  PNGs of ``IMAGE_SIDE`` pixels a side, each a colour taken from the prompt and its index.
  dall-e models answer URLs the fake serves itself (``GET /v1/generated/<name>.png``, no key
  needed, as OpenAI's signed URLs), or ``b64_json`` when ``response_format`` says so; dall-e-3
  takes only ``n=1`` and adds ``revised_prompt`` = ``"revised: " + prompt``. gpt-image models
  always answer ``b64_json``, refuse ``response_format`` (as OpenAI does: "Unknown parameter") and
  report usage: the prompt's words as text tokens, ``IMAGE_TOKENS`` per input image and per
  output image.
* ``POST /v1/audio/speech`` (JSON) answers ``len(input) * SPEECH_SECONDS_PER_CHAR / speed``
  seconds of audio in ``response_format`` (default mp3), with the content type OpenAI sends:
  ``wav`` is a WAV of a ``TONE_HZ`` tone (24 kHz, 16-bit mono, as OpenAI's), ``pcm`` the same
  samples raw, ``mp3`` silent MPEG-1 Layer III frames (128 kbit/s). ``opus``, ``aac`` and ``flac``
  are stand-ins: the container's signature then zeros at 128 kbit/s, enough for a client that
  checks the type, not for a decoder.
* ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` (multipart ``file``) answer
  ``TRANSCRIPT`` / ``TRANSLATION`` as ``json`` (default), ``text`` or ``verbose_json``. The audio's
  duration is read from a WAV header; any other file is taken for 128 kbit/s audio (16,000 bytes
  a second). whisper models report ``usage`` by duration (whole seconds, rounded up); the
  gpt-4o transcribe models by tokens (``AUDIO_TOKENS_PER_SECOND``, and the words of the text),
  and refuse ``verbose_json`` as OpenAI does. ``language`` must be ISO-639-1.

JSON requests are checked against the SDK's params types, multipart ones for field names the
SDK's params do not know, and every JSON answer against the SDK's response types; a mismatch is
a FidelityError. The failure knobs (``fail_next`` ...) work as for chat.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
import struct
import time
import uuid
import wave
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from openai.types import ImagesResponse, image_edit_params, image_generate_params
from openai.types.audio import (
    Transcription,
    TranscriptionVerbose,
    Translation,
    TranslationVerbose,
    speech_create_params,
    transcription_create_params,
    translation_create_params,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.fakes.openai_upstream import Answer, BodyReader, _checked, _UpstreamError, send_bytes, send_json
from tests.fakes.sdk_fidelity import FidelityError

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import FakeOpenAIUpstream

__all__ = [
    "AUDIO_TOKENS_PER_SECOND",
    "CONTENT_TYPES",
    "ENDPOINTS",
    "IMAGE_SIDE",
    "IMAGE_TOKENS",
    "SPEECH_SECONDS_PER_CHAR",
    "TONE_HZ",
    "TRANSCRIPT",
    "TRANSLATION",
    "FormFile",
    "serve_image",
]

IMAGE_SIDE: Final = 8
IMAGE_TOKENS: Final = 100
SPEECH_SECONDS_PER_CHAR: Final = 0.05
TONE_HZ: Final = 440
SAMPLE_RATE: Final = 24_000
AUDIO_TOKENS_PER_SECOND: Final = 10
TRANSCRIPT: Final = "hello from the fake upstream"
TRANSLATION: Final = "hello from the fake upstream, in English"

# The Content-Type OpenAI answers each speech format with.
CONTENT_TYPES: Final = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
# The first bytes of the formats the fake only stands in for: Ogg, ADTS, FLAC.
_SIGNATURES: Final = {"opus": b"OggS", "aac": b"\xff\xf1", "flac": b"fLaC"}
_BYTES_PER_SECOND: Final = 16_000  # 128 kbit/s
# One silent MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, mono; its side information is all
# zeros, so it holds no audio data. 1152 samples, 417 bytes.
_MP3_FRAME: Final = b"\xff\xfb\x90\xc4" + bytes(413)
_MP3_FRAME_SECONDS: Final = 1152 / 44_100
_LANGUAGES: Final = {"en": "english", "fr": "french", "de": "german", "es": "spanish"}
_IMAGE_TYPES: Final = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file of a multipart request, as the fake recorded it."""

    filename: str | None
    content_type: str
    data: bytes


# ---------------------------------------------------------------------- requests


async def read_form(request: web.Request) -> dict[str, Any] | _UpstreamError:
    """A multipart form: a field named ``x[]`` gives a list, files are FormFiles."""
    if request.content_type != "multipart/form-data":
        return _UpstreamError(
            400,
            f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data.",
        )
    form: dict[str, Any] = {}
    for name, value in (await request.post()).items():
        item = (
            FormFile(value.filename, value.content_type, value.file.read())
            if isinstance(value, web.FileField)
            else value
        )
        if name.endswith("[]"):
            form.setdefault(name, []).append(item)
        else:
            form[name] = item
    return form


def _check_params(body: dict[str, Any], params: Any) -> None:
    """FidelityError unless the JSON body is a valid ``params`` TypedDict with no unknown keys
    (the SDK's TypedDicts drop keys they do not know, so the validated copy must equal it)."""
    try:
        validated = TypeAdapter(params).validate_python(body, strict=True)
    except ValidationError as exc:
        raise FidelityError(f"{params.__name__} rejected the request: {exc}") from exc
    if validated != body:
        raise FidelityError(f"{params.__name__} dropped or changed fields:\nsent {body}\nread {validated}")


def _check_form(form: dict[str, Any], params: Any) -> None:
    """FidelityError when a form field is one the SDK's ``params`` do not know."""
    known = params.__required_keys__ | params.__optional_keys__
    unknown = sorted(name for name in form if name.removesuffix("[]") not in known)
    if unknown:
        raise FidelityError(f"{params.__name__} does not know the form fields {unknown}")


def _checked_answer(fake: FakeOpenAIUpstream, answer: dict[str, Any], model: type[BaseModel]) -> dict:
    return _checked(answer, model) if fake.strict else answer


def _required(form: dict[str, Any], name: str) -> Any:
    value = form.get(name)
    if value is None or value == "":
        raise _UpstreamError(400, f"Missing required parameter: '{name}'.", param=name)
    return value


# ------------------------------------------------------------------------ images


def _png(seed: str) -> bytes:
    """A real PNG of IMAGE_SIDE x IMAGE_SIDE pixels of one colour taken from ``seed``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour = hashlib.sha256(seed.encode()).digest()[:3]
    rows = (b"\x00" + colour * IMAGE_SIDE) * IMAGE_SIDE  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", IMAGE_SIDE, IMAGE_SIDE, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _images_answer(fake: FakeOpenAIUpstream, fields: dict[str, Any], input_images: int) -> dict[str, Any]:
    """The ImagesResponse for a generation or edit request (form values arrive as strings)."""
    model = str(fields.get("model") or "dall-e-2")
    prompt = str(_required(fields, "prompt"))
    try:
        n = int(fields.get("n") or 1)
    except ValueError:
        raise _UpstreamError(400, f"Invalid value for 'n': {fields['n']!r}.", param="n") from None
    if "dall-e-3" in model and n != 1:
        raise _UpstreamError(400, "You must provide n=1 for this model.", param="n")
    gpt_image = "gpt-image" in model
    if gpt_image and "response_format" in fields:
        raise _UpstreamError(
            400, "Unknown parameter: 'response_format'.", code="unknown_parameter", param="response_format"
        )
    as_url = not gpt_image and fields.get("response_format", "url") == "url"
    data: list[dict[str, Any]] = []
    for index in range(n):
        png = _png(f"{prompt}#{index}")
        if as_url:
            name = f"{uuid.uuid4().hex}.png"
            fake.images[name] = png
            item: dict[str, Any] = {"url": f"{fake.base_url}/generated/{name}"}
        else:
            item = {"b64_json": base64.b64encode(png).decode()}
        if "dall-e-3" in model:
            item["revised_prompt"] = "revised: " + prompt
        data.append(item)
    answer: dict[str, Any] = {"created": int(time.time()), "data": data}
    if gpt_image:
        words = len(prompt.split())
        quality = fields.get("quality")
        answer.update(
            background="transparent" if fields.get("background") == "transparent" else "opaque",
            output_format=fields.get("output_format") or "png",
            quality=quality if quality in ("low", "medium", "high") else "medium",
            size=fields["size"] if fields.get("size") not in (None, "auto") else "1024x1024",
            usage={
                "input_tokens": words + input_images * IMAGE_TOKENS,
                "input_tokens_details": {"image_tokens": input_images * IMAGE_TOKENS, "text_tokens": words},
                "output_tokens": n * IMAGE_TOKENS,
                "total_tokens": words + (input_images + n) * IMAGE_TOKENS,
            },
        )
    return _checked_answer(fake, answer, ImagesResponse)


async def _generate(
    fake: FakeOpenAIUpstream, request: web.Request, body: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    if fake.strict:
        _check_params(body, image_generate_params.ImageGenerateParamsNonStreaming)
    return await send_json(request, _images_answer(fake, body, input_images=0), action)


def _image_kind(upload: object, field: str, allowed: tuple[str, ...]) -> None:
    if not isinstance(upload, FormFile):
        raise _UpstreamError(400, f"'{field}' must be a file upload.", param=field)
    kind = next((kind for magic, kind in _IMAGE_TYPES.items() if upload.data.startswith(magic)), None)
    if kind not in allowed:
        raise _UpstreamError(
            400,
            f"Invalid input image - format must be in {list(allowed)}.",
            code="invalid_image_format",
            param=field,
        )


async def _edit(
    fake: FakeOpenAIUpstream, request: web.Request, form: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    if fake.strict:
        _check_form(form, image_edit_params.ImageEditParamsNonStreaming)
    images = form.get("image[]") or ([form["image"]] if "image" in form else [])
    if not images:
        raise _UpstreamError(400, "Missing required parameter: 'image'.", param="image")
    for image in images:
        _image_kind(image, "image", ("image/png", "image/jpeg", "image/webp"))
    if "mask" in form:
        _image_kind(form["mask"], "mask", ("image/png",))
    return await send_json(request, _images_answer(fake, form, input_images=len(images)), action)


async def serve_image(fake: FakeOpenAIUpstream, request: web.Request) -> web.StreamResponse:
    png = fake.images.get(request.match_info["name"])
    if png is None:
        raise web.HTTPNotFound()
    return web.Response(body=png, content_type="image/png")


# ------------------------------------------------------------------------ speech


def _tone(seconds: float) -> bytes:
    """16-bit little-endian mono samples of a TONE_HZ sine at SAMPLE_RATE."""
    count = round(seconds * SAMPLE_RATE)
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    return struct.pack(f"<{count}h", *(round(8000 * math.sin(step * i)) for i in range(count)))


def _audio(response_format: str, seconds: float) -> bytes:
    if response_format == "wav":
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(_tone(seconds))
        return out.getvalue()
    if response_format == "pcm":
        return _tone(seconds)
    if response_format == "mp3":
        return _MP3_FRAME * max(1, math.ceil(seconds / _MP3_FRAME_SECONDS))
    signature = _SIGNATURES[response_format]
    return signature + bytes(max(0, round(seconds * _BYTES_PER_SECOND) - len(signature)))


async def _speech(
    fake: FakeOpenAIUpstream, request: web.Request, body: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    if fake.strict:
        _check_params(body, speech_create_params.SpeechCreateParams)
    text = _required(body, "input")
    _required(body, "voice")
    if len(text) > 4096:
        raise _UpstreamError(
            400,
            f"string too long. Expected a string with maximum length 4096, but got a string with "
            f"length {len(text)} instead.",
            param="input",
        )
    response_format = body.get("response_format", "mp3")
    if response_format not in CONTENT_TYPES:
        raise _UpstreamError(400, f"Invalid value for 'response_format': {response_format!r}.")
    speed = float(body.get("speed", 1.0))
    if not 0.25 <= speed <= 4.0:
        raise _UpstreamError(400, f"Invalid value for 'speed': {speed}. Expected 0.25 to 4.0.", param="speed")
    seconds = len(text) * SPEECH_SECONDS_PER_CHAR / speed
    return await send_bytes(request, _audio(response_format, seconds), CONTENT_TYPES[response_format], action)


# ------------------------------------------------------------------ transcription


def _duration(audio: FormFile) -> float:
    try:
        with wave.open(io.BytesIO(audio.data)) as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return len(audio.data) / _BYTES_PER_SECOND


def _segments(text: str, duration: float) -> list[dict[str, Any]]:
    return [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": duration,
            "text": " " + text,
            "tokens": list(range(50364, 50364 + len(text.split()))),
            "temperature": 0.0,
            "avg_logprob": -0.25,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
    ]


async def _transcribe(
    fake: FakeOpenAIUpstream, request: web.Request, form: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    translate = request.path.endswith("/translations")
    if fake.strict:
        params = (
            translation_create_params.TranslationCreateParams
            if translate
            else transcription_create_params.TranscriptionCreateParamsNonStreaming
        )
        _check_form(form, params)
    audio = _required(form, "file")
    if not isinstance(audio, FormFile):
        raise _UpstreamError(400, "'file' must be a file upload.", param="file")
    model = str(_required(form, "model"))
    response_format = form.get("response_format", "json")
    token_billed = "transcribe" in model
    if token_billed and response_format not in ("json", "text"):
        raise _UpstreamError(
            400,
            f"response_format '{response_format}' is not compatible with model '{model}'. "
            "Use 'json' or 'text' instead.",
            param="response_format",
        )
    language = form.get("language")
    if language is not None and not re.fullmatch(r"[a-z]{2}", language):
        raise _UpstreamError(
            400,
            f"Invalid language '{language}'. Language parameter must be specified in ISO-639-1 format.",
            param="language",
        )
    text = TRANSLATION if translate else TRANSCRIPT
    duration = _duration(audio)
    if response_format == "text":
        return await send_bytes(request, (text + "\n").encode(), "text/plain; charset=utf-8", action)
    if token_billed:
        audio_tokens, words = math.ceil(duration * AUDIO_TOKENS_PER_SECOND), len(text.split())
        usage: dict[str, Any] = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": words,
            "total_tokens": audio_tokens + words,
        }
    else:
        usage = {"type": "duration", "seconds": math.ceil(duration)}
    answer: dict[str, Any]
    if response_format == "verbose_json":
        answer = {
            "language": "english" if translate else _LANGUAGES.get(language or "en", "english"),
            "duration": duration,
            "text": text,
            "segments": _segments(text, duration),
        }
        if not translate:
            answer["usage"] = usage
        model_type: type[BaseModel] = TranslationVerbose if translate else TranscriptionVerbose
    elif response_format == "json":
        answer = {"text": text} if translate else {"text": text, "usage": usage}
        model_type = Translation if translate else Transcription
    else:
        raise _UpstreamError(
            400, f"fake upstream: response_format {response_format!r} is not served", param="response_format"
        )
    return await send_json(request, _checked_answer(fake, answer, model_type), action)


# Path (under /v1) -> (answer, body reader).
ENDPOINTS: Final[dict[str, tuple[Answer, BodyReader | None]]] = {
    "/images/generations": (_generate, None),
    "/images/edits": (_edit, read_form),
    "/audio/speech": (_speech, None),
    "/audio/transcriptions": (_transcribe, read_form),
    "/audio/translations": (_transcribe, read_form),
}
