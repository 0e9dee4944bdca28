"""`kind = "aimlapi"`: the service's own wire format, for every family.

The configured `base_url` is the root (https://api.aimlapi.com); requests go to the same paths
the gateway itself serves (`/v1/chat/completions`, `/v1/images/generations`, `/v1/tts`, ...), so
another Omnigate is such an upstream too. Chat and embeddings are OpenAI's shapes (the
OpenAI-compatible adapter speaks them); the media families pass the service's bodies and answers
through. The upstream bills in credits and says so (`meta.usage.tokens_used`, later
`credits_used`): unless the operator prices a model, a call costs that times `markup`.

Video, music and speech to text also run as the service's own tasks (providers/tasks.py): a
create route answers an id at once (and the charge: polling is free), a poll route says where
the task stands, and when done, its result in the shape the gateway answers for the family.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from omnigate.billing.pricing import Used, upstream_credits
from omnigate.providers.media import MediaJob, MediaResult, audio_seconds, document_pages
from omnigate.providers.openai_compat import errors
from omnigate.providers.openai_compat.client import OpenAICompatProvider
from omnigate.providers.redact import scrub
from omnigate.providers.tasks import Polled, Status, Submitted

log = logging.getLogger(__name__)

# The service's route for each media family.
PATHS = {
    "image": "/v1/images/generations",
    "image-edit": "/v1/images/edits",
    "tts": "/v1/tts",
    "stt": "/v1/stt",
    "ocr": "/v1/ocr",
    "vision": "/vision",
    # MiniMax music-01: a reference upload, then a synchronous song (api/minimax_music.py).
    "music-upload": "/v2/generate/audio/minimax/upload",
    "music-generate": "/v2/generate/audio/minimax/generate",
}

# The service's create route for each task family; video and music are polled on the same path
# with `?generation_id=`, speech to text at `/v1/stt/<generation_id>`.
TASK_PATHS = {
    "video": "/v2/video/generations",
    "music": "/v2/generate/audio",
    "stt": "/v1/stt/create",
}
# Where a task's result sits in the poll answer (speech to text: the transcript in `result`).
RESULT_KEYS = {"video": "video", "music": "audio_file", "stt": "result"}
# The service's task statuses; its STT samples also poll on while `waiting` or `active`.
STATUSES: dict[str, Status] = {
    "queued": "queued",
    "waiting": "queued",
    "generating": "generating",
    "active": "generating",
    "completed": "completed",
    "error": "error",
}
# The longest failure reason passed on to the client.
REASON_CHARS = 300


class AimlapiProvider(OpenAICompatProvider):
    media_families = frozenset(PATHS)
    task_families = frozenset(TASK_PATHS)

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        markup: float = 1.0,
        reserve_credits: int = 2_000_000,
        **common: Any,
    ) -> None:
        self.root = base_url.rstrip("/")
        # The service answers /v1/responses itself: Responses requests go there as they are.
        super().__init__(name, self.root + "/v1", responses=True, **common)
        self.markup = markup
        self.reserve_credits = reserve_credits

    async def run_media(self, job: MediaJob) -> MediaResult:
        url = self.root + PATHS[job.family]
        if job.files:
            headers = {k: v for k, v in self._headers.items() if k.lower() != "content-type"}
            response = await self.post(url, _form(job), headers)
        else:
            response = await self.post(url, orjson.dumps(job.body), self._headers)
        if response.content_type.startswith("audio/") or response.content_type == "application/octet-stream":
            audio = await response.read()
            response.release()
            return MediaResult(audio=audio, content_type=response.content_type, used=used_by(job, None))
        body = await self.read_json(response)
        if not isinstance(body, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        return MediaResult(body=body, used=used_by(job, body), upstream_credits=upstream_credits(body))

    async def submit_task(self, family: str, job: MediaJob) -> Submitted:
        url = self.root + TASK_PATHS[family]
        if job.files:  # speech to text from an upload
            headers = {k: v for k, v in self._headers.items() if k.lower() != "content-type"}
            answer = await self._call("POST", url, data=_form(job), headers=headers)
        else:
            answer = await self._call("POST", url, data=orjson.dumps(job.body))
        # Video and music answer `id` (`<uuid>:<model>`), speech to text `generation_id`.
        upstream_id = answer.get("id") or answer.get("generation_id")
        if not isinstance(upstream_id, str):
            raise errors.invalid(self.name, "answered a task without its id")
        # A status the gateway does not know yet is still a task it can poll.
        status = STATUSES.get(answer.get("status"), "queued")
        return Submitted(upstream_id=upstream_id, status=status, upstream_credits=upstream_credits(answer))

    async def poll_task(self, family: str, upstream_id: str) -> Polled:
        if family == "stt":
            answer = await self._call("GET", f"{self.root}/v1/stt/{quote(upstream_id, safe='')}")
        else:
            answer = await self._call(
                "GET", self.root + TASK_PATHS[family], params={"generation_id": upstream_id}
            )
        status = STATUSES.get(answer.get("status"))
        if status is None:
            # Polling on could wait forever for a status that never comes.
            raise errors.invalid(self.name, "answered a task status it does not document")
        if status == "error":
            log.info("provider %r: task %s failed: %s", self.name, upstream_id, answer.get("error"))
            return Polled(status=status, error=failure_reason(answer.get("error")))
        if status != "completed":
            return Polled(status=status)
        result = answer.get(RESULT_KEYS[family])
        if not isinstance(result, dict) or (family != "stt" and not isinstance(result.get("url"), str)):
            raise errors.invalid(self.name, f"answered a completed {family} task without its result")
        if family == "stt":
            return Polled(status=status, result=result, used=Used(seconds=audio_seconds(result)))
        seconds = _seconds(result.get("duration")) or _seconds(answer.get("duration"))
        return Polled(status=status, result={RESULT_KEYS[family]: result}, used=Used(seconds=seconds))

    async def _call(
        self,
        method: str,
        url: str,
        *,
        data: bytes | aiohttp.FormData | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict:
        """A task route's JSON answer (the STT create answers 201)."""
        response = await self.send(
            method, url, body=data, headers=headers or self._headers, params=params, ok=(200, 201)
        )
        answer = await self.read_json(response)
        if not isinstance(answer, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        return answer


def _form(job: MediaJob) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in job.body.items():
        if value is None:
            continue
        form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
    for upload in job.files:
        form.add_field(upload.field, upload.data, filename=upload.filename, content_type=upload.content_type)
    return form


def failure_reason(error: object) -> str:
    """Why a task failed, for the client: the service's words (a string, `{message}`, or a
    validation `{detail: [{msg}]}`), scrubbed and cut short."""
    reason = error if isinstance(error, str) else None
    if isinstance(error, dict):
        detail = error.get("detail")
        first = detail[0] if isinstance(detail, list) and detail else None
        for found in (error.get("message"), detail, first.get("msg") if isinstance(first, dict) else None):
            if isinstance(found, str) and found:
                reason = found
                break
    return scrub(reason)[:REASON_CHARS] if reason else "the upstream gave no reason"


def _seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 0.0


def used_by(job: MediaJob, body: dict | None) -> Used:
    """What a call used, read off the service's answer (for models the operator prices)."""
    if job.family in ("image", "image-edit"):
        data = (body or {}).get("data")
        return Used(images=len(data) if isinstance(data, list) else 1)
    if job.family == "tts":
        return Used(characters=len(str(job.body.get("text") or job.body.get("script") or "")))
    if job.family == "stt":
        return Used(seconds=audio_seconds(body or {}))
    if job.family == "ocr":
        return Used(pages=document_pages(body or {}))
    if job.family == "music-generate":  # MiniMax says the song's length in milliseconds
        length = ((body or {}).get("extra_info") or {}).get("audio_length")
        return Used(seconds=length / 1000 if isinstance(length, int | float) else 0.0)
    if job.family == "music-upload":
        return Used(requests=0)  # a reference for later songs, not a generation
    return Used()
