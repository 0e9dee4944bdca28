"""A local fake of the AI/ML API service itself, on its own routes and wire formats.

Tests of an upstream of `kind = "aimlapi"` point it at this fake. It answers every synchronous
family the way the service's docs show (../shared/spec/notes/other-endpoints.md), and checks each
body against the model's rules from the gateway's own catalogue, as the service checks it: a
body the rules refuse is answered 400 (the service's error body) *and* noted in
``fidelity_errors``, because a gateway must never forward what the service would refuse.

Routes (each ``/v1/...`` also answers without ``/v1``, as the service's do):

* ``POST /v1/chat/completions`` (JSON, or SSE when ``stream`` is true), ``POST /v1/responses``
  (JSON or SSE), ``POST /v1/embeddings``;
* ``POST /v1/images/generations`` (triposr answers ``model_mesh``), ``POST /v1/images/edits``
  (multipart: ``image``/``image[]`` files, optional ``mask``);
* ``POST /v1/tts``, ``POST /v1/stt`` (JSON ``url``, or multipart with the file in ``audio``),
  ``POST /v1/ocr``, ``POST /vision``;
* the asynchronous tasks (§1.6): ``POST /v2/video/generations`` and ``POST /v2/generate/audio``
  (JSON) answer ``{id: "<uuid>:<model>", status: "queued", meta}``, polled with ``GET`` on the
  same path and ``?generation_id=<id>``; ``POST /v1/stt/create`` (JSON ``url``, or multipart
  with the file in ``audio``) answers 201 ``{generation_id: "<uuid>"}``, polled with
  ``GET /v1/stt/<generation_id>`` (``{status, result}``);
* ``GET /files/<name>.{png,wav,glb,obj,mp4,mp3}``: the real files the answers' URLs point at
  (no key).

Deterministic behaviour (tests may rely on it):

* Chat and Responses answer ``"echo: " + <last user text>`` with OpenAI's usage counting, as
  tests/fakes/openai_upstream.py does (prompt tokens = words of the message texts, completion
  tokens = pieces of its ``CHUNK_CHARS`` characters). Streams end with a chunk that carries
  ``usage`` and ``meta``. No tool calls.
* Embeddings: ``EMBEDDING_DIM`` floats per input (``dimensions`` when given), the same for the
  same text; ``prompt_tokens`` = words of the inputs.
* Transcripts say ``TRANSCRIPT`` and last ``AUDIO_SECONDS``, whatever the audio.
* Tasks are kept in memory (``tasks``, by id). Each poll answers where a task stands, then moves
  it one step on: video and music go ``queued`` -> ``generating`` -> ``completed``, speech to
  text ``waiting`` -> ``active`` -> ``completed`` (the words the service's STT samples poll on),
  so the third poll sees it done, and every later poll the same result. A task whose
  ``prompt`` or ``url`` (or uploaded file's name) contains ``FAIL_MARK`` ends in ``error``
  instead, with an error object in the service's shape for the family (and no result). A video
  lasts its body's ``duration`` (a number, or text such as ``"5"`` or ``"5s"``), else
  ``VIDEO_SECONDS``; its URL serves ``MP4``, a track's ``MP3`` (Lyria's ``WAV``), and a
  transcript is the one /v1/stt answers. An id the fake never gave (or one of another
  family's route) is 404.
* ``meta.usage.tokens_used`` is what `tokens_used` computes from the request body:
  chat/Responses/embeddings ``CREDITS_PER_TOKEN`` x total tokens; images ``CREDITS_PER_IMAGE``
  x images asked (``n`` or ``num_images``, else 1); triposr ``CREDITS_PER_MESH``; TTS
  ``CREDITS_PER_CHARACTER`` x characters of ``text`` (or ``script``); STT
  ``CREDITS_PER_AUDIO_SECOND`` x ``AUDIO_SECONDS``; OCR ``CREDITS_PER_PAGE`` x pages asked
  (one unless ``pages`` lists them); /vision ``CREDITS_PER_FEATURE`` x features; a video task
  ``CREDITS_PER_VIDEO_SECOND`` x its seconds; a music task ``CREDITS_PER_TRACK``; an STT task
  as /v1/stt. Tasks are charged on their create answer only (polls are free, as the service's
  are); the STT create answer carries ``meta`` too, which the docs' example does not show.
  TTS answers that are the audio itself carry no ``meta`` (the service's do not either).

Knobs: ``fail_next`` (a queue, one item popped per request to a service route, task polls
included: an int HTTP status
answered with the service's canned message, ``"hang"`` (sleep ``hang_seconds`` first),
``"disconnect"`` (hang up without answering) or ``"midstream"`` (a stream or JSON body cut off
halfway)). Observations: ``requests`` (every request to a service route, as `RecordedRequest`),
``tasks`` and ``fidelity_errors``.

Run by hand: ``python -m tests.fakes.aimlapi_upstream --port 9998`` (from the repo root).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import io
import math
import struct
import time
import urllib.parse
import uuid
import wave
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import orjson
from aiohttp import web

from omnigate.catalog.loader import Catalog, Model
from omnigate.catalog.rules import RuleViolation, compile_rules
from tests.fakes.openai_upstream import _pieces, _text_of, _usage

__all__ = [
    "AUDIO_SECONDS",
    "CREDITS_PER_AUDIO_SECOND",
    "CREDITS_PER_CHARACTER",
    "CREDITS_PER_FEATURE",
    "CREDITS_PER_IMAGE",
    "CREDITS_PER_MESH",
    "CREDITS_PER_PAGE",
    "CREDITS_PER_TOKEN",
    "CREDITS_PER_TRACK",
    "CREDITS_PER_VIDEO_SECOND",
    "EMBEDDING_DIM",
    "FAIL_MARK",
    "GLB",
    "MP3",
    "MP4",
    "PNG",
    "TRANSCRIPT",
    "VIDEO_SECONDS",
    "WAV",
    "FakeAimlapiUpstream",
    "RecordedRequest",
    "Task",
    "UploadedFile",
    "main",
    "tokens_used",
]

CREDITS_PER_TOKEN: Final = 3
CREDITS_PER_IMAGE: Final = 25_200
CREDITS_PER_MESH: Final = 182_000
CREDITS_PER_CHARACTER: Final = 30
CREDITS_PER_AUDIO_SECOND: Final = 1_000
CREDITS_PER_PAGE: Final = 2_000
CREDITS_PER_FEATURE: Final = 1_500
CREDITS_PER_VIDEO_SECOND: Final = 98_000
CREDITS_PER_TRACK: Final = 210_000

AUDIO_SECONDS: Final = 3
"""How long every transcribed audio is, as the transcripts report it."""
TRANSCRIPT: Final = "the quick brown fox"
EMBEDDING_DIM: Final = 8
MAX_DIMENSIONS: Final = 3072
OCR_MARKDOWN: Final = "# a red cube\n\nThe fake read this page."
VIDEO_SECONDS: Final = 5
"""How long a video lasts when its body asks for no ``duration``."""
FAIL_MARK: Final = "[fail]"
"""In a task's ``prompt`` or ``url`` (or an uploaded file's name): the task ends in ``error``."""


def _png() -> bytes:
    """A real 2x2 RGB PNG (red pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))  # filter byte, then pixels
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _wav() -> bytes:
    """A real WAV: a quarter second of 16-bit mono silence at 8 kHz."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * 2000)
    return out.getvalue()


def _glb() -> bytes:
    """A real binary glTF 2.0 file (an empty scene): header and one JSON chunk."""
    scene = orjson.dumps({"asset": {"version": "2.0", "generator": "omnigate fake"}})
    scene += b" " * (-len(scene) % 4)  # chunks are 4-byte aligned, padded with spaces
    return (
        struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(scene))
        + struct.pack("<I4s", len(scene), b"JSON")
        + scene
    )


def _mp4() -> bytes:
    """The boxes an MP4 file starts with (``ftyp``, then an empty ``mdat``): a file that sniffs
    as MP4, not one a player can show."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2mp41"
    mdat = b"mdat"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 4 + len(mdat)) + mdat


def _mp3() -> bytes:
    """One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz: 417 bytes), its audio data zeros."""
    header = b"\xff\xfb\x90\x64"
    return header + b"\x00" * (417 - len(header))


PNG: Final = _png()
WAV: Final = _wav()
GLB: Final = _glb()
MP4: Final = _mp4()
MP3: Final = _mp3()
OBJ: Final = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
_FILES: Final[dict[str, tuple[bytes, str]]] = {
    "png": (PNG, "image/png"),
    "wav": (WAV, "audio/wav"),
    "glb": (GLB, "model/gltf-binary"),
    "obj": (OBJ, "text/plain"),
    "mp4": (MP4, "video/mp4"),
    "mp3": (MP3, "audio/mpeg"),
}

# The service's error messages by status (other-endpoints.md §1.3).
_MESSAGES: Final[dict[int, str]] = {
    400: "Body validation error!",
    401: "This request requires a valid API key. You can create a new API key on the Billing page: "
    "https://aimlapi.com/app/keys",
    403: "You've run out of credits. Please top up your balance or update your payment method to "
    "continue: https://aimlapi.com/app/billing/",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}

# Set on a request whose answer a queued "midstream" cuts off.
_MIDSTREAM: Final = web.RequestKey("midstream", bool)
# The files a request uploaded (the answers of task routes read their names).
_UPLOADS: Final = web.RequestKey("uploads", list)

# Image models whose docs show fal's raw answer (`images[]`, `seed`, `timings`); the service's
# normalised `data[]` comes with it (§2.2).
_FAL_PREFIXES: Final = (
    "flux/",
    "flux-pro",
    "flux-realism",
    "blackforestlabs/",
    "stable-diffusion-",
    "recraft-",
    "alibaba/qwen-image",
    "alibaba/z-image",
    "bytedance/seedream-v4",
    "bytedance/uso",
    "hunyuan/",
)
# TTS families whose answer is the audio itself (§5); the others answer JSON with its URL.
_RAW_AUDIO_PREFIXES: Final = ("#g1_aura-", "elevenlabs/", "minimax/", "microsoft/vibevoice")

# Google Vision feature -> (the annotate response's key, what the fake finds).
_VISION: Final[dict[str, tuple[str, Any]]] = {
    "LABEL_DETECTION": ("labelAnnotations", [{"mid": "/m/0dv5r", "description": "cube", "score": 0.97}]),
    "TEXT_DETECTION": ("textAnnotations", [{"locale": "en", "description": "a red cube"}]),
    "DOCUMENT_TEXT_DETECTION": ("fullTextAnnotation", {"text": "a red cube", "pages": []}),
    "FACE_DETECTION": ("faceAnnotations", []),
    "LANDMARK_DETECTION": ("landmarkAnnotations", []),
    "LOGO_DETECTION": ("logoAnnotations", []),
    "SAFE_SEARCH_DETECTION": (
        "safeSearchAnnotation",
        {k: "VERY_UNLIKELY" for k in ("adult", "spoof", "medical", "violence", "racy")},
    ),
    "IMAGE_PROPERTIES": (
        "imagePropertiesAnnotation",
        {"dominantColors": {"colors": [{"color": {"red": 255, "green": 0, "blue": 0}, "score": 1.0}]}},
    ),
    "CROP_HINTS": ("cropHintsAnnotation", {"cropHints": []}),
    "WEB_DETECTION": ("webDetection", {"webEntities": []}),
    "OBJECT_LOCALIZATION": ("localizedObjectAnnotations", []),
}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    field: str  # "image" for `image[]` too
    filename: str
    content_type: str
    size: int


@dataclass(slots=True)
class RecordedRequest:
    path: str
    # The JSON body, or the multipart form's text fields as sent (strings; a repeated field or
    # one named `x[]` as a list). None when the body is neither.
    body: dict[str, Any] | None
    files: list[UploadedFile] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # keys lower-cased


# What a task answers while it runs, poll by poll, before it ends (module doc).
_STEPS: Final[dict[str, tuple[str, str]]] = {
    "video": ("queued", "generating"),
    "music": ("queued", "generating"),
    "stt": ("waiting", "active"),
}


@dataclass(slots=True)
class Task:
    """An asynchronous generation the fake runs: what it will end with is settled at creation,
    the polls only reveal it."""

    id: str
    family: str  # "video", "music" or "stt"
    model: str
    # The family's result (the `video`, the `audio_file`, the transcript), or its error object.
    output: dict[str, Any]
    fails: bool = False
    polls: int = 0

    def step(self) -> str:
        """The status this poll sees; the task moves one step on."""
        steps = _STEPS[self.family]
        status = steps[self.polls] if self.polls < len(steps) else "error" if self.fails else "completed"
        self.polls += 1
        return status


class _ServiceError(Exception):
    """Raised inside handlers to answer with the service's error body."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message or _MESSAGES.get(status, f"fake service error {status}")


# ---------------------------------------------------------------------- usage rules


def _chat_text(messages: object) -> tuple[int, str]:
    """(prompt tokens, answer text) of a chat body's messages."""
    items = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in items)
    last_user = next((_text_of(m.get("content")) for m in reversed(items) if m.get("role") == "user"), "")
    return prompt_tokens, "echo: " + last_user


def _responses_text(body: dict[str, Any]) -> tuple[int, str]:
    """(prompt tokens, answer text) of a Responses body: `input` as a string or message items
    (their `input_text` parts count as text)."""
    given = body.get("input")
    if isinstance(given, str):
        return len(given.split()), "echo: " + given
    messages = [
        {**item, "content": _parts_text(item.get("content"))}
        for item in (given if isinstance(given, list) else [])
        if isinstance(item, dict) and "role" in item
    ]
    return _chat_text(messages)


def _parts_text(content: object) -> object:
    if isinstance(content, list):
        return " ".join(
            str(p.get("text")) for p in content if isinstance(p, dict) and p.get("type") == "input_text"
        )
    return content


def _embedding_inputs(body: dict[str, Any]) -> list[str]:
    given = body.get("input")
    return [given] if isinstance(given, str) else [str(x) for x in given] if isinstance(given, list) else []


def _image_count(body: dict[str, Any]) -> int:
    for name in ("n", "num_images"):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
            return int(value)
    return 1


def _tts_text(body: dict[str, Any]) -> str:
    return str(body.get("text") or body.get("script") or "")


def _ocr_pages(body: dict[str, Any]) -> int:
    """Pages a document request asks for: Mistral's list of indices, Google's selector."""
    pages = body.get("pages")
    if isinstance(pages, list) and pages:
        return len(pages)
    if isinstance(pages, dict):
        if isinstance(pages.get("indices"), list) and pages["indices"]:
            return len(pages["indices"])
        start, end = pages.get("start"), pages.get("end")
        if pages.get("type") == "range" and isinstance(start, int) and isinstance(end, int) and end >= start:
            return end - start + 1
    return 1


def _video_seconds(body: dict[str, Any]) -> int:
    """How long a video the body asks for lasts: its `duration` (8, "5", Luma's "5s")."""
    value = body.get("duration")
    if isinstance(value, str) and value.removesuffix("s").isdigit():
        value = int(value.removesuffix("s"))
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return math.ceil(value)
    return VIDEO_SECONDS


def _path_key(path: str) -> str:
    """A route's path without its optional /v1 prefix."""
    return path.removeprefix("/v1")


def tokens_used(path: str, body: dict[str, Any]) -> int:
    """What the fake bills (``meta.usage.tokens_used``) for a valid request to ``path`` (with or
    without /v1), computed from the request body alone (form fields as the rules type them)."""
    route = _path_key(path)
    if route in ("/chat/completions", "/responses"):
        prompt, text = (
            _chat_text(body.get("messages")) if route == "/chat/completions" else _responses_text(body)
        )
        return CREDITS_PER_TOKEN * (prompt + len(_pieces(text)))
    if route == "/embeddings":
        return CREDITS_PER_TOKEN * sum(len(text.split()) for text in _embedding_inputs(body))
    if route in ("/images/generations", "/images/edits"):
        return CREDITS_PER_MESH if body.get("model") == "triposr" else CREDITS_PER_IMAGE * _image_count(body)
    if route == "/tts":
        return CREDITS_PER_CHARACTER * len(_tts_text(body))
    if route in ("/stt", "/stt/create"):
        return CREDITS_PER_AUDIO_SECOND * AUDIO_SECONDS
    if route == "/v2/video/generations":
        return CREDITS_PER_VIDEO_SECOND * _video_seconds(body)
    if route in ("/v2/generate/audio", "/v2/generate/audio/minimax/generate"):
        return CREDITS_PER_TRACK
    if route == "/ocr":
        return CREDITS_PER_PAGE * _ocr_pages(body)
    if route == "/vision":
        features = body.get("features")
        return CREDITS_PER_FEATURE * (len(features) if isinstance(features, list) else 0)
    raise ValueError(f"the fake bills nothing on {path}")


def _meta(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"usage": {"tokens_used": tokens_used(path, body)}}


# ---------------------------------------------------------------------- request checks


@functools.cache
def _default_catalog() -> Catalog:
    return Catalog.load()


def _form_types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set(schema.get("type") or ())
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or ():
            if isinstance(option, dict):
                found |= _form_types(option)
    return found


def _form_value(value: Any, schema: dict[str, Any]) -> Any:
    """A form field's text as the type the rules give the field ("2" -> 2, "true" -> True, JSON
    for arrays and objects); text that does not convert stays text, for the rules to refuse."""
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [_form_value(v, items) for v in value]
    kinds = _form_types(schema)
    if not isinstance(value, str) or not kinds or "string" in kinds:
        return value
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    if kinds & {"integer", "number"}:
        with contextlib.suppress(ValueError):
            return int(value)
        with contextlib.suppress(ValueError):
            return float(value)
    if kinds & {"array", "object"}:
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(value)
    return value


def _multer_record(upload: UploadedFile) -> dict[str, Any]:
    """How the service (NestJS + multer) hands an uploaded file to its rules."""
    return {
        "fieldname": upload.field,
        "originalname": upload.filename,
        "encoding": "7bit",
        "mimetype": upload.content_type,
        "size": upload.size,
    }


def _typed_form(model: Model, form: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
    """A multipart body as the rules see it: fields typed, files the rules name as records."""
    properties = (model.rules or {}).get("properties") or {}
    body = {name: _form_value(value, properties.get(name) or {}) for name, value in form.items()}
    for upload in files:
        if upload.field in properties:
            body[upload.field] = _multer_record(upload)
    return body


def _check_vision(body: dict[str, Any]) -> None:
    """The parts of Google's annotate request (`Vision.v1.VisionRequestDTO`) the fake relies on."""
    image = body.get("image")
    source = image.get("source") if isinstance(image, dict) else None
    has_uri = isinstance(source, dict) and isinstance(source.get("imageUri"), str)
    if not (has_uri or (isinstance(image, dict) and isinstance(image.get("content"), str))):
        raise RuleViolation("image", "Required: image.source.imageUri or image.content")
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise RuleViolation("features", "Required")
    for i, feature in enumerate(features):
        kind = feature.get("type") if isinstance(feature, dict) else None
        if kind not in _VISION:
            expected = " | ".join(f"'{k}'" for k in _VISION)
            raise RuleViolation(
                f"features[{i}].type", f"Invalid enum value. Expected {expected}, received {kind!r}"
            )


# ---------------------------------------------------------------------- the server

# (fake, request, model (None on /vision), the body as the rules see it) -> the answer.
_Answer = Callable[
    ["FakeAimlapiUpstream", web.Request, "Model | None", dict[str, Any]], Awaitable[web.StreamResponse]
]


@dataclass(frozen=True, slots=True)
class _Route:
    path: str  # without /v1
    types: frozenset[str]  # catalogue types served; empty: the route takes no model (/vision)
    answer: _Answer
    json: bool = True  # takes a JSON body
    files: tuple[str, ...] = ()  # file fields of a multipart body; none: JSON only
    required_files: tuple[str, ...] = ()
    # Where it is mounted: `/v1` routes answer without it too; /vision and /v2 only as they are.
    prefixes: tuple[str, ...] = ("/v1", "")
    # The model's rules describe this route's body (not so MiniMax's upload: its answer checks).
    rules: bool = True


class FakeAimlapiUpstream:
    """An aiohttp server on 127.0.0.1 that answers like the AI/ML API service (module doc)."""

    def __init__(
        self,
        *,
        api_key: str | None = "aiml-fake",
        catalog: Catalog | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.catalog = catalog or _default_catalog()
        self.host = host
        self.requested_port = port
        self.requests: list[RecordedRequest] = []
        self.fail_next: list[int | str] = []
        self.hang_seconds: float = 30.0
        self.fidelity_errors: list[str] = []
        self.tasks: dict[str, Task] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        # Handlers still running; stop() cancels them so a "hang" cannot stall teardown.
        self._inflight: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind on ``host:port`` (port 0 = a free one) in the running event loop."""
        if self._runner is not None:
            raise RuntimeError("FakeAimlapiUpstream already started")
        app = web.Application(middlewares=[self._middleware])
        for route in _ROUTES:
            for prefix in route.prefixes:
                app.router.add_post(prefix + route.path, functools.partial(self._serve, route=route))
        for path, family in (
            ("/v2/video/generations", "video"),
            ("/v2/generate/audio", "music"),
            ("/v1/stt/{generation_id}", "stt"),
            ("/stt/{generation_id}", "stt"),
        ):
            app.router.add_get(path, functools.partial(self._poll, family=family))
        app.router.add_get("/files/{name}", self._file)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.requested_port).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Cancel in-flight handlers and close the server; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        tasks = [t for t in self._inflight if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()

    async def __aenter__(self) -> FakeAimlapiUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeAimlapiUpstream not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the service's root, without /v1."""
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget recorded traffic, tasks and pending knobs (for fixtures shared across tests)."""
        self.requests.clear()
        self.fail_next.clear()
        self.fidelity_errors.clear()
        self.tasks.clear()

    def file_url(self, extension: str) -> str:
        """A fresh URL of a file the fake serves (``png``, ``wav``, ``glb``, ``obj``, ``mp4``,
        ``mp3``)."""
        return f"{self.base_url}/files/{uuid.uuid4().hex}.{extension}"

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await handler(request)
        except _ServiceError as exc:
            return _error(request, exc.status, exc.message)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            # NestJS's answer to a route it does not have.
            return _error(request, exc.status, f"Cannot {request.method} {request.path}")
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _read(
        self, request: web.Request, route: _Route
    ) -> tuple[dict[str, Any] | None, list[UploadedFile]]:
        """The body (JSON, or a multipart form's text fields) and the uploaded files."""
        if route.files and request.content_type == "multipart/form-data":
            form: dict[str, Any] = {}
            files: list[UploadedFile] = []
            posted = await request.post()
            for name, value in posted.items():
                key = name.removesuffix("[]")
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append(UploadedFile(key, value.filename, value.content_type, len(data)))
                elif key in form or name.endswith("[]"):
                    previous = form.get(key, [])
                    form[key] = [*(previous if isinstance(previous, list) else [previous]), value]
                else:
                    form[key] = value
            return form, files
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None, []
        return (body if isinstance(body, dict) else None), []

    async def _admit(
        self, request: web.Request, body: dict[str, Any] | None, files: list[UploadedFile]
    ) -> web.StreamResponse | None:
        """Record, play the next queued failure and check the key; an answer when that ends it."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.path, body, files, headers))
        action = self.fail_next.pop(0) if self.fail_next else None
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
            action = None
        if action == "disconnect":
            _hang_up(request)
            return web.Response()  # never written: the transport is already closed
        if isinstance(action, int) and not isinstance(action, bool):
            raise _ServiceError(action)
        if action not in (None, "midstream"):
            raise _ServiceError(500, f"fake service: unknown fail_next item {action!r}")
        request[_MIDSTREAM] = action == "midstream"
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise _ServiceError(401)
        return None

    async def _serve(self, request: web.Request, route: _Route) -> web.StreamResponse:
        """Record, play the next queued failure, check the key and the body, then answer."""
        body, files = await self._read(request, route)
        answered = await self._admit(request, body, files)
        if answered is not None:
            return answered
        request[_UPLOADS] = files
        multipart = request.content_type == "multipart/form-data"
        if body is None or (multipart and not route.files) or (not multipart and not route.json):
            kind = "a multipart form" if route.files and not route.json else "a JSON object"
            self._refuse(request, "body", f"Expected {kind}")
        for upload in files:
            if upload.field not in route.files:
                self._refuse(
                    request, upload.field, f"Unexpected file (this route takes {', '.join(route.files)})"
                )
        for name in route.required_files:
            if not any(f.field == name for f in files):
                self._refuse(request, name, "Required (a file)")
        if not route.types:
            try:
                _check_vision(body)
            except RuleViolation as exc:
                self._refuse(request, exc.param, exc.detail, exc.message)
            return await route.answer(self, request, None, body)
        model = self._model(request, body)
        if multipart:
            body = _typed_form(model, body, files)
        try:
            if route.rules:
                self._rules(request, route, model)(body)
        except RuleViolation as exc:
            self._refuse(request, exc.param, exc.detail, exc.message)
        if route.path in ("/stt", "/stt/create") and "url" not in body and not files:
            self._refuse(request, "url", "Required (or a file in `audio`)")
        return await route.answer(self, request, model, body)

    async def _poll(self, request: web.Request, family: str) -> web.StreamResponse:
        """Where a task stands (the GET of its family's route); each poll moves it on."""
        # The poll's query stands for its body in `requests` (STT's id is in the path).
        answered = await self._admit(request, dict(request.query) or None, [])
        if answered is not None:
            return answered
        generation_id = request.match_info.get("generation_id") or request.query.get("generation_id")
        if not generation_id:
            self._refuse(request, "generation_id", "Required")
        task = self.tasks.get(generation_id)
        if task is None or task.family != family:
            raise _ServiceError(404, f"Generation '{generation_id}' not found.")
        status = task.step()
        done = status == "completed"
        failed = status == "error"
        if family == "stt":
            answer: dict[str, Any] = {"status": status, "result": task.output if done else None}
            if failed:
                answer["error"] = task.output
            return await _json(request, answer)
        key = "video" if family == "video" else "audio_file"
        answer = {"id": task.id, "status": status, key: task.output if done else None}
        answer["error"] = task.output if failed else None
        if family == "video":
            answer["meta"] = None  # charged at creation; polls are free
        return await _json(request, answer)

    def _model(self, request: web.Request, body: dict[str, Any]) -> Model:
        name = body.get("model")
        if not isinstance(name, str):
            self._refuse(request, "model", "Required")
        model = self.catalog.lookup(name)
        if model is None:
            retired = self.catalog.retired(name)
            if retired is not None:
                raise _ServiceError(404, f"The model '{name}' is no longer available.")
            raise _ServiceError(404, f"Model '{name}' not found.")
        return model

    def _rules(self, request: web.Request, route: _Route, model: Model) -> Callable[[dict], None]:
        """The validator of a model on a route: its rules, or on /v1/responses a chat model's
        Responses rules; a model of another type is refused."""
        if route.path == "/responses" and model.type == "chat-completion" and model.responses_rules:
            return compile_rules(model.responses_rules)
        if model.type not in route.types:
            self._refuse(
                request, "model", f"'{model.id}' is a {model.type} model, not served on {request.path}"
            )
        return model.validate

    def _refuse(self, request: web.Request, param: str, detail: str, message: str | None = None) -> NoReturn:
        """Answer 400 and note it: a gateway that fronts the service never sends such a body."""
        message = message or f"Body validation error! {param}: {detail}"
        self.fidelity_errors.append(f"{request.path}: {message}")
        raise _ServiceError(400, message)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        _, _, extension = request.match_info["name"].rpartition(".")
        if extension not in _FILES:
            raise _ServiceError(404)
        data, content_type = _FILES[extension]
        return web.Response(body=data, content_type=content_type)


def _error(request: web.Request, status: int, message: str) -> web.Response:
    """The service's (NestJS) error body (§1.2), statusCode an integer."""
    body = {
        "message": message,
        "path": request.path,
        "requestId": str(uuid.uuid4()),
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _hang_up(request: web.Request) -> None:
    # close() (not abort()) so bytes already written still reach the client before the FIN.
    transport = request.transport
    if transport is not None:
        transport.close()


async def _json(request: web.Request, answer: dict[str, Any], status: int = 200) -> web.StreamResponse:
    return await _send(request, orjson.dumps(answer), "application/json", status)


async def _send(
    request: web.Request, payload: bytes, content_type: str, status: int = 200
) -> web.StreamResponse:
    """A 2xx answer; with a queued "midstream", the full length promised and half sent."""
    if not request.get(_MIDSTREAM):
        return web.Response(status=status, body=payload, content_type=content_type)
    response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    _hang_up(request)
    return response


async def _sse(request: web.Request, events: list[bytes]) -> web.StreamResponse:
    """Encoded SSE events; with a queued "midstream", the client is hung up on before the third."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for i, event in enumerate(events):
        if request.get(_MIDSTREAM) and i == 2:
            _hang_up(request)
            return response
        await response.write(event)
    await response.write_eof()
    return response


def _event(data: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


# ---------------------------------------------------------------------- answers


async def _chat(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    prompt_tokens, text = _chat_text(body.get("messages"))
    pieces = _pieces(text)
    usage = _usage(prompt_tokens, len(pieces))
    meta = _meta(request.path, body)
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_aimlapi_fake",
    }
    if body.get("stream") is not True:
        message = {"role": "assistant", "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return await _json(
            request, {**base, "object": "chat.completion", "choices": [choice], "usage": usage, "meta": meta}
        )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**base, "object": "chat.completion.chunk", "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    chunks.append(chunk({}, "stop"))
    # The service reports usage and its charge on a last chunk without choices.
    chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage, "meta": meta})
    return await _sse(request, [*map(_event, chunks), b"data: [DONE]\n\n"])


async def _responses(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    prompt_tokens, text = _responses_text(body)
    pieces = _pieces(text)
    item_id = f"msg_{uuid.uuid4().hex}"
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    item = {"type": "message", "id": item_id, "status": "completed", "role": "assistant", "content": [part]}
    done = {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": body["model"],
        "output": [item],
        "output_text": text,
        "instructions": body.get("instructions"),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "metadata": {},
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(pieces),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt_tokens + len(pieces),
        },
        "meta": _meta(request.path, body),
    }
    if body.get("stream") is not True:
        return await _json(request, done)
    started = {**done, "status": "in_progress", "output": [], "output_text": "", "usage": None}
    started.pop("meta")
    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
        *({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []} for piece in pieces),
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    encoded = [_event({**e, "sequence_number": i}, e["type"]) for i, e in enumerate(events)]
    return await _sse(request, encoded)


def _embedding(text: str, size: int) -> list[float]:
    """``size`` floats in [-1, 1) derived from ``text``: equal texts, equal vectors."""
    seed = hashlib.sha256(text.encode(errors="surrogatepass")).digest()
    stream = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(math.ceil(size * 2 / 32)))
    return [int.from_bytes(stream[2 * i : 2 * i + 2], "big") / 32768 - 1 for i in range(size)]


async def _embeddings(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    dimensions = body.get("dimensions")
    size = int(dimensions) if isinstance(dimensions, int | float) and dimensions >= 1 else EMBEDDING_DIM
    if size > MAX_DIMENSIONS:  # as OpenAI refuses more dimensions than a model has
        raise _ServiceError(400, f"Body validation error! dimensions: at most {MAX_DIMENSIONS}")
    inputs = _embedding_inputs(body)
    data = []
    for index, text in enumerate(inputs):
        vector: Any = _embedding(text, size)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(text.split()) for text in inputs)
    answer = {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "meta": _meta(request.path, body),
    }
    return await _json(request, answer)


async def _images(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    meta = _meta(request.path, body)
    if model is not None and model.id == "triposr":
        extension = "obj" if body.get("output_format") == "obj" else "glb"
        mesh = {
            "url": fake.file_url(extension),
            "content_type": "application/octet-stream",
            "file_name": f"model.{extension}",
            "file_size": len(_FILES[extension][0]),
        }
        timings = {"prepare": 0.01, "generation": 0.2, "export": 0.05}
        return await _json(
            request, {"model_mesh": mesh, "timings": timings, "remeshing_dir": None, "meta": meta}
        )
    inline = body.get("response_format") == "b64_json" or body.get("convert_base64_to_url") is False
    data = [
        {"url": None, "b64_json": base64.b64encode(PNG).decode()}
        if inline
        else {"url": fake.file_url("png"), "b64_json": None}
        for _ in range(_image_count(body))
    ]
    answer: dict[str, Any] = {"created": int(time.time()), "data": data, "meta": meta}
    if model is not None and model.id.startswith(_FAL_PREFIXES):
        answer["images"] = [
            {
                "url": d["url"] or f"data:image/png;base64,{d['b64_json']}",
                "width": 2,
                "height": 2,
                "content_type": "image/png",
            }
            for d in data
        ]
        seed = body.get("seed")
        answer["seed"] = seed if isinstance(seed, int) else 42
        answer["timings"] = {"inference": 0.25}
        answer["has_nsfw_concepts"] = [False] * len(data)
        answer["prompt"] = body.get("prompt")
    return await _json(request, answer)


async def _tts(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    name = model.id if model is not None else ""
    if body.get("stream") is True or name.startswith(_RAW_AUDIO_PREFIXES):
        return await _send(request, WAV, "audio/wav")
    answer: dict[str, Any] = {"audio": {"url": fake.file_url("wav")}, "meta": _meta(request.path, body)}
    if name.startswith("alibaba/"):
        answer["usage"] = {"characters": len(_tts_text(body))}  # Qwen's answers report it
    return await _json(request, answer)


async def _stt(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    transcript = _transcript(fake, model.id if model is not None else "", body)
    return await _json(request, {**transcript, "meta": _meta(request.path, body)})


def _transcript(fake: FakeAimlapiUpstream, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A model's transcript object: AssemblyAI's for `aai/*`, else Deepgram's (§6)."""
    words = [
        {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "confidence": 0.98, "punctuated_word": w}
        for i, w in enumerate(TRANSCRIPT.split())
    ]
    if name.startswith("aai/"):
        return {
            "id": str(uuid.uuid4()),
            "status": "completed",
            "language_model": "assemblyai_default",
            "acoustic_model": "assemblyai_default",
            "language_code": body.get("language_code") or "en_us",
            "audio_url": body.get("url") or fake.file_url("wav"),
            "text": TRANSCRIPT,
            "words": [
                {
                    "text": w["word"],
                    "start": int(w["start"] * 1000),
                    "end": int(w["end"] * 1000),
                    "confidence": 0.98,
                    "speaker": None,
                }
                for w in words
            ],
            "confidence": 0.98,
            "audio_duration": AUDIO_SECONDS,
        }
    metadata = {
        "transaction_key": "deprecated",
        "request_id": str(uuid.uuid4()),
        "sha256": hashlib.sha256(orjson.dumps(body, default=str)).hexdigest(),
        "created": datetime.now(UTC).isoformat(),
        "duration": float(AUDIO_SECONDS),
        "channels": 1,
        "models": [str(uuid.uuid4())],
        "model_info": {},
    }
    alternative = {"transcript": TRANSCRIPT, "confidence": 0.98, "words": words}
    return {"metadata": metadata, "results": {"channels": [{"alternatives": [alternative]}]}}


def _fails(request: web.Request, body: dict[str, Any]) -> bool:
    """Whether a task is to end in error: FAIL_MARK in its prompt, its url or a file's name."""
    # aiohttp's client percent-encodes the brackets of a file name.
    files = [urllib.parse.unquote(f.filename) for f in request.get(_UPLOADS, [])]
    named = [body.get("prompt"), body.get("url"), *files]
    return any(isinstance(text, str) and FAIL_MARK in text for text in named)


async def _create_video(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    assert model is not None
    task_id = f"{uuid.uuid4()}:{model.id}"
    fails = _fails(request, body)
    if fails:
        # The ERA docs' example (kling effects): a validation-style detail list.
        detail = {"loc": ["body", "prompt"], "msg": "The prompt was flagged by the content filter"}
        output: dict[str, Any] = {"detail": [{**detail, "type": "content_policy_violation"}]}
    else:
        output = {"url": fake.file_url("mp4"), "duration": _video_seconds(body)}
    fake.tasks[task_id] = Task(task_id, "video", model.id, output, fails)
    answer = {"id": task_id, "status": "queued", "meta": _meta(request.path, body)}
    return await _json(request, answer)


async def _create_music(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    assert model is not None
    task_id = f"{uuid.uuid4()}:{model.id}"
    fails = _fails(request, body)
    if fails:
        output: dict[str, Any] = {"name": "GenerationError", "message": "The track could not be generated"}
    else:
        extension = "wav" if model.id == "google/lyria2" else "mp3"  # Lyria's example is a WAV
        data, content_type = _FILES[extension]
        output = {
            "url": fake.file_url(extension),
            "content_type": content_type,
            "file_name": f"output.{extension}",
            "file_size": len(data),
        }
    fake.tasks[task_id] = Task(task_id, "music", model.id, output, fails)
    answer = {"id": task_id, "status": "queued", "meta": _meta(request.path, body)}
    return await _json(request, answer)


async def _minimax_upload(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    """MiniMax music-01's reference upload: an id for the voice, the instrumental or both."""
    purpose = body.get("purpose")
    if purpose not in ("song", "voice", "instrumental"):
        fake._refuse(request, "purpose", "Expected 'song' | 'voice' | 'instrumental'")
    answer: dict[str, Any] = {"base_resp": {"status_code": 0, "status_msg": "success"}}
    if purpose in ("song", "voice"):
        answer["voice_id"] = f"vocal-{uuid.uuid4().hex[:12]}"
    if purpose in ("song", "instrumental"):
        answer["instrumental_id"] = f"instrumental-{uuid.uuid4().hex[:12]}"
    return await _json(request, answer)


async def _minimax_generate(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    """MiniMax music-01, synchronously: the song as hex-encoded MP3 in the answer."""
    if not isinstance(body.get("lyrics"), str) or not body["lyrics"]:
        fake._refuse(request, "lyrics", "Required")
    answer = {
        "data": {"status": 2, "audio": MP3.hex()},
        "extra_info": {
            "audio_length": 26_000,
            "audio_size": len(MP3),
            "audio_bitrate": 128000,
            "audio_sample_rate": 44100,
        },
        "trace_id": uuid.uuid4().hex,
        "base_resp": {"status_code": 0, "status_msg": "success"},
        "meta": _meta(request.path, body),
    }
    return await _json(request, answer)


async def _create_stt(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    assert model is not None
    task_id = str(uuid.uuid4())
    fails = _fails(request, body)
    output = {"message": "The audio could not be decoded"} if fails else _transcript(fake, model.id, body)
    fake.tasks[task_id] = Task(task_id, "stt", model.id, output, fails)
    return await _json(request, {"generation_id": task_id, "meta": _meta(request.path, body)}, status=201)


async def _ocr(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    meta = _meta(request.path, body)
    count = _ocr_pages(body)
    if model is not None and model.id.startswith("google/"):
        # Google Document AI's process answer: one document, its text, its pages.
        document = {
            "mimeType": body.get("mimeType") or "application/pdf",
            "text": OCR_MARKDOWN,
            "pages": [
                {"pageNumber": i + 1, "dimension": {"width": 1700, "height": 2200, "unit": "pixels"}}
                for i in range(count)
            ],
        }
        return await _json(request, {"document": document, "meta": meta})
    pages = [
        {
            "index": i,
            "markdown": OCR_MARKDOWN,
            "images": [],
            "dimensions": {"dpi": 200, "height": 2200, "width": 1700},
        }
        for i in range(count)
    ]
    answer = {
        "pages": pages,
        "model": "mistral-ocr-2503-completion",
        "usage_info": {"pages_processed": count, "doc_size_bytes": len(orjson.dumps(body["document"]))},
        "meta": meta,
    }
    return await _json(request, answer)


async def _vision(
    fake: FakeAimlapiUpstream, request: web.Request, model: Model | None, body: dict[str, Any]
) -> web.StreamResponse:
    found = dict(_VISION[feature["type"]] for feature in body["features"])
    return await _json(request, {"responses": [found], "meta": _meta(request.path, body)})


_ROUTES: Final = (
    _Route("/chat/completions", frozenset({"chat-completion"}), _chat),
    _Route("/responses", frozenset({"responses"}), _responses),
    _Route("/embeddings", frozenset({"embedding"}), _embeddings),
    _Route("/images/generations", frozenset({"image"}), _images),
    _Route(
        "/images/edits",
        frozenset({"image"}),
        _images,
        json=False,
        files=("image", "mask"),
        required_files=("image",),
    ),
    _Route("/tts", frozenset({"tts"}), _tts),
    _Route("/stt", frozenset({"stt"}), _stt, files=("audio",)),
    _Route("/ocr", frozenset({"document"}), _ocr),
    _Route("/vision", frozenset(), _vision, prefixes=("",)),
    _Route("/v2/video/generations", frozenset({"video"}), _create_video, prefixes=("",)),
    _Route("/v2/generate/audio", frozenset({"audio"}), _create_music, prefixes=("",)),
    _Route("/stt/create", frozenset({"stt"}), _create_stt, files=("audio",)),
    _Route(
        "/v2/generate/audio/minimax/upload",
        frozenset({"audio"}),
        _minimax_upload,
        json=False,
        files=("file",),
        required_files=("file",),
        prefixes=("",),
        rules=False,
    ),
    _Route("/v2/generate/audio/minimax/generate", frozenset({"audio"}), _minimax_generate, prefixes=("",)),
)


# ---------------------------------------------------------------------- runner


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.aimlapi_upstream --port 9998``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9998)
    parser.add_argument("--api-key", default="aiml-fake", help="key required as Bearer token")
    parser.add_argument("--no-auth", action="store_true", help="accept any or no key")
    args = parser.parse_args(argv)

    async def serve() -> None:
        fake = FakeAimlapiUpstream(
            api_key=None if args.no_auth else args.api_key, host=args.host, port=args.port
        )
        await fake.start()
        print(f"fake AI/ML API service on {fake.base_url} (Ctrl-C to stop)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
