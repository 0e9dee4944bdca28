"""The fake upstream's Videos API (Sora): OpenAI's /videos endpoints on the wire.

Deterministic behaviour (tests may rely on it):

* ``POST /v1/videos`` takes a multipart form, as the SDK sends it even without a file: ``prompt``
  (required), ``model`` (``sora-2``, the default, ``sora-2-pro`` or their dated snapshots),
  ``seconds`` (``"4"``, the default, ``"8"`` or ``"12"``), ``size`` (default ``720x1280``; sora-2
  makes only ``720x1280`` and ``1280x720``, sora-2-pro also ``1024x1792`` and ``1792x1024``) and an
  optional ``input_reference``, a PNG, JPEG or WebP file (the SDK's types also name a reference
  object, but its ``create`` sends only files). The image's dimensions are not checked against
  ``size`` (OpenAI checks them). It answers the Video, ``queued`` at progress 0.
* ``GET /v1/videos/{id}``: each retrieve moves the video one step on and answers it:
  ``queued`` → ``in_progress`` (progress ``HALFWAY``) → ``completed`` (progress 100), or ``failed``
  with ``FAILED_ERROR`` when the prompt contains ``[fail]``; a finished video stays as it is.
* ``GET /v1/videos/{id}/content`` answers ``video_bytes(id)`` as ``video/mp4`` once the video is
  completed, a 404 before (and for a failed one). Only the default ``variant`` (``video``) is served.
* An unknown id is a 404, as OpenAI answers it.

The form's field names and values are checked against the SDK's ``VideoCreateParams`` (its file
types cannot be validated: ``input_reference`` is checked to be a file), every Video answer against the
SDK's ``Video``; a mismatch is a FidelityError. The failure knobs (``fail_next`` ...) work as for
chat, on every request, retrieves and downloads included. Requests are recorded: a create as its
form (files as ``FormFile``), a GET as its query parameters.
"""

from __future__ import annotations

import secrets
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, get_type_hints

from aiohttp import web
from openai.types import Video, video_create_params
from pydantic import TypeAdapter, ValidationError

from tests.fakes.openai_media import FormFile, _checked_answer, read_form
from tests.fakes.openai_upstream import Answer, BodyReader, _UpstreamError, send_bytes, send_json
from tests.fakes.sdk_fidelity import FidelityError

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import FakeOpenAIUpstream

__all__ = ["FAILED_ERROR", "HALFWAY", "ROUTES", "SIZES", "VideoJob", "video_bytes"]

HALFWAY: Final = 50
FAILED_ERROR: Final = {
    "code": "moderation_blocked",
    "message": "Your request was blocked by our moderation system.",
}
# The sizes each model makes (dated snapshots as their model).
SIZES: Final = {
    "sora-2": ("720x1280", "1280x720"),
    "sora-2-pro": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
}
_SECONDS: Final = ("4", "8", "12")
_EXPIRES_AFTER: Final = 3600  # seconds a finished video's assets stay downloadable
_IMAGE_TYPES: Final = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
_PARAMS: Final = video_create_params.VideoCreateParams
_HINTS: Final = get_type_hints(_PARAMS)


@dataclass(slots=True)
class VideoJob:
    """One video the fake makes; ``fake.videos`` holds them by id."""

    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    input_reference: FormFile | None = None
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    error: dict[str, str] | None = None

    def advance(self) -> None:
        if self.status == "queued":
            self.status, self.progress = "in_progress", HALFWAY
        elif self.status == "in_progress":
            self.completed_at = int(time.time())
            if "[fail]" in self.prompt:
                self.status, self.error = "failed", dict(FAILED_ERROR)
            else:
                self.status, self.progress = "completed", 100

    def answer(self) -> dict[str, Any]:
        """The Video object, as OpenAI answers it."""
        return {
            "id": self.id,
            "object": "video",
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "expires_at": self.completed_at + _EXPIRES_AFTER if self.completed_at else None,
            "error": self.error,
            "model": self.model,
            "progress": self.progress,
            "prompt": self.prompt,
            "remixed_from_video_id": None,
            "seconds": self.seconds,
            "size": self.size,
            "status": self.status,
        }


def video_bytes(video_id: str) -> bytes:
    """The MP4 the fake serves for a completed video: an ``ftyp`` box, then an ``mdat`` box holding
    the id (enough for a client that checks the container, not for a player)."""

    def box(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", 8 + len(data)) + kind + data

    return box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41") + box(
        b"mdat", video_id.encode()
    )


# ---------------------------------------------------------------------- requests


async def read_query(request: web.Request) -> dict[str, Any]:
    """A GET's "body", as the fake records it: its query parameters."""
    return dict(request.query)


def _check_create(form: dict[str, Any]) -> None:
    """FidelityError when a field is one the SDK's VideoCreateParams do not know, or a value it
    would not send."""
    unknown = sorted(set(form) - set(_HINTS))
    if unknown:
        raise FidelityError(f"VideoCreateParams does not know the form fields {unknown}")
    for name, value in form.items():
        if name == "input_reference":
            # The SDK's file types are IO objects, bytes or paths; on the wire, a file part.
            if not isinstance(value, FormFile):
                raise FidelityError(f"the SDK sends input_reference as a file, not {value!r}")
            continue
        try:
            validated = TypeAdapter(_HINTS[name]).validate_python(value, strict=True)
        except ValidationError as exc:
            raise FidelityError(f"VideoCreateParams rejected {name}={value!r}: {exc}") from exc
        if validated != value:
            raise FidelityError(f"VideoCreateParams read {name}={value!r} as {validated!r}")


def _base_model(model: str) -> str | None:
    """The model a name or dated snapshot is (``sora-2-pro-2025-10-06`` is ``sora-2-pro``)."""
    for base in sorted(SIZES, key=len, reverse=True):
        if model == base or (model.startswith(base + "-20") and len(model) == len(base) + 11):
            return base
    return None


def _invalid_value(param: str, value: str, allowed: tuple[str, ...]) -> _UpstreamError:
    quoted = [f"'{v}'" for v in allowed]
    listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)
    return _UpstreamError(
        400, f"Invalid value: '{value}'. Supported values are: {listed}.", code="invalid_value", param=param
    )


# ------------------------------------------------------------------------ routes


async def _create(
    fake: FakeOpenAIUpstream, request: web.Request, form: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    if fake.strict:
        _check_create(form)
    prompt = form.get("prompt")
    if not prompt:
        raise _UpstreamError(400, "Missing required parameter: 'prompt'.", param="prompt")
    model = str(form.get("model") or "sora-2")
    base = _base_model(model)
    if base is None:
        raise _invalid_value("model", model, tuple(SIZES))
    seconds = str(form.get("seconds") or "4")
    if seconds not in _SECONDS:
        raise _invalid_value("seconds", seconds, _SECONDS)
    size = str(form.get("size") or "720x1280")
    if size not in SIZES[base]:
        raise _invalid_value("size", size, SIZES[base])
    reference = form.get("input_reference")
    if isinstance(reference, FormFile) and not any(reference.data.startswith(m) for m in _IMAGE_TYPES):
        raise _UpstreamError(
            400,
            "Invalid input_reference - format must be one of image/jpeg, image/png, image/webp.",
            code="invalid_image_format",
            param="input_reference",
        )
    if reference is not None and not isinstance(reference, FormFile):
        raise _UpstreamError(400, "'input_reference' must be a file upload.", param="input_reference")
    job = VideoJob(
        id=f"video_{secrets.token_hex(24)}",
        model=model,
        prompt=str(prompt),
        seconds=seconds,
        size=size,
        created_at=int(time.time()),
        input_reference=reference,
    )
    fake.videos[job.id] = job
    return await send_json(request, _checked_answer(fake, job.answer(), Video), action)


def _video(fake: FakeOpenAIUpstream, request: web.Request) -> VideoJob:
    video_id = request.match_info["video_id"]
    job = fake.videos.get(video_id)
    if job is None:
        raise _UpstreamError(404, f"Video with id '{video_id}' not found.", code="video_not_found")
    return job


async def _retrieve(
    fake: FakeOpenAIUpstream, request: web.Request, query: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    job = _video(fake, request)
    job.advance()
    return await send_json(request, _checked_answer(fake, job.answer(), Video), action)


async def _content(
    fake: FakeOpenAIUpstream, request: web.Request, query: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    job = _video(fake, request)
    variant = query.get("variant", "video")
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise _invalid_value("variant", variant, ("video", "thumbnail", "spritesheet"))
    if variant != "video":
        raise _UpstreamError(400, f"fake upstream: variant {variant!r} is not served", param="variant")
    if job.status != "completed":
        raise _UpstreamError(
            404,
            f"Video '{job.id}' is not ready: its status is {job.status}.",
            code="video_not_ready",
        )
    return await send_bytes(request, video_bytes(job.id), "video/mp4", action)


# (method, path under /v1, answer, body reader).
ROUTES: Final[tuple[tuple[str, str, Answer, BodyReader], ...]] = (
    ("POST", "/videos", _create, read_form),
    ("GET", "/videos/{video_id}", _retrieve, read_query),
    ("GET", "/videos/{video_id}/content", _content, read_query),
)
