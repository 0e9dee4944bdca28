"""Backend for Deepgram's speech API: the `tts` and `stt` media families, no chat.

One keep-alive connection pool per provider (providers/http.py), like every upstream adapter.
The service's bodies are put in Deepgram's terms on the way out (request.py); the answers are
already the service's (response.py checks them).
"""

from __future__ import annotations

import aiohttp

from omnigate.billing.pricing import Used
from omnigate.errors import ApiError
from omnigate.providers.deepgram import errors, request
from omnigate.providers.deepgram.response import InvalidResponse, audio_type, transcript
from omnigate.providers.http import MediaOnlyProvider
from omnigate.providers.media import MediaJob, MediaResult


class DeepgramProvider(MediaOnlyProvider):
    media_families = frozenset({"tts", "stt"})
    failure_for_status = staticmethod(errors.failure_for_status)

    @staticmethod
    def api_root(base_url: str) -> str:
        # Configs give either the API root or the v1 base some guides print; both mean the same.
        return base_url.removesuffix("/v1")

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Token {api_key}"}

    async def run_media(self, job: MediaJob) -> MediaResult:
        # The router sends only the families in media_families: a job is tts or stt.
        speaking = job.family == "tts"
        try:
            wire = request.speak(job.body) if speaking else request.listen(job.body, job.file("audio"))
        except ApiError as exc:
            raise errors.refused_request(exc) from exc
        headers = {**self._headers, "Content-Type": wire.content_type}
        response = await self.post(self.url(wire.path).with_query(wire.query), wire.body, headers)
        if speaking:
            return await self._audio(response, characters=len(job.body["text"]))
        return await self._transcript(response)

    async def _audio(self, response: aiohttp.ClientResponse, *, characters: int) -> MediaResult:
        try:
            content_type = audio_type(response.headers.get("Content-Type", ""))
        except InvalidResponse as exc:
            response.release()
            raise errors.invalid(self.name, str(exc)) from exc
        try:
            audio = await response.read()
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc
        finally:
            response.release()
        if not audio:
            raise errors.invalid(self.name, "returned no audio")
        return MediaResult(audio=audio, content_type=content_type, used=Used(characters=characters))

    async def _transcript(self, response: aiohttp.ClientResponse) -> MediaResult:
        try:
            body, seconds = transcript(await self.read_json(response))
        except InvalidResponse as exc:
            raise errors.invalid(self.name, str(exc)) from exc
        return MediaResult(body=body, used=Used(seconds=seconds))
