"""`kind = "fal"`: fal.ai's synchronous model API for the media family `image`.

A job's body names a fal app in `model` (the deployment's upstream name, `fal-ai/flux/schnell`
say); it is posted to `{base_url}/{app}`, which holds the request open until the app is done and
answers its result (translate.py turns both into the service's shapes). fal's queue API
(queue.fal.run: submit, poll, fetch) is for jobs longer than a request should stay open; the
catalogue's image and 3D apps take seconds, and a stall is the read timeout's business.
"""

from __future__ import annotations

import orjson

from omnigate.providers.fal import errors
from omnigate.providers.fal.translate import InvalidAnswer, from_fal, to_fal
from omnigate.providers.http import MediaOnlyProvider
from omnigate.providers.media import MediaJob, MediaResult


class FalProvider(MediaOnlyProvider):
    media_families = frozenset({"image"})
    failure_for_status = staticmethod(errors.failure_for_status)

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Key {api_key}"}

    async def run_media(self, job: MediaJob) -> MediaResult:
        app, arguments = to_fal(job.body)
        response = await self.post(self.url(f"/{app}"), orjson.dumps(arguments), self._headers)
        try:
            body, used = from_fal(await self.read_json(response))
        except InvalidAnswer as exc:
            raise errors.invalid(self.name, str(exc)) from exc
        return MediaResult(body=body, used=used)
