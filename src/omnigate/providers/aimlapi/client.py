"""`kind = "aimlapi"`: the service's own wire format, for every family.

The configured `base_url` is the root (https://api.aimlapi.com); requests go to the same paths
the gateway itself serves (`/v1/chat/completions`, `/v1/images/generations`, `/v1/tts`, ...), so
another Omnigate is such an upstream too. Chat and embeddings are OpenAI's shapes (the
OpenAI-compatible adapter speaks them); the media families pass the service's bodies and answers
through. The upstream bills in credits and says so (`meta.usage.tokens_used`, later
`credits_used`): unless the operator prices a model, a call costs that times `markup`.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from omnigate.billing.pricing import Used, upstream_credits
from omnigate.providers.media import MediaJob, MediaResult, audio_seconds, document_pages
from omnigate.providers.openai_compat import errors
from omnigate.providers.openai_compat.client import OpenAICompatProvider

# The service's route for each media family.
PATHS = {
    "image": "/v1/images/generations",
    "image-edit": "/v1/images/edits",
    "tts": "/v1/tts",
    "stt": "/v1/stt",
    "ocr": "/v1/ocr",
    "vision": "/vision",
}


class AimlapiProvider(OpenAICompatProvider):
    media_families = frozenset(PATHS)

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


def _form(job: MediaJob) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in job.body.items():
        if value is None:
            continue
        form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
    for upload in job.files:
        form.add_field(upload.field, upload.data, filename=upload.filename, content_type=upload.content_type)
    return form


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
    return Used()
