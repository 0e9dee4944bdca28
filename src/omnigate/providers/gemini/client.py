"""Backend for Google's Gemini API (generativelanguage.googleapis.com and look-alikes).

One keep-alive connection pool per provider (providers/http.py), like every upstream adapter. Bodies arrive in
OpenAI's shape and are translated both ways (request.py, response.py, stream.py).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import aiohttp
import orjson

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.gemini import errors
from omnigate.providers.gemini.request import TranslationError, to_gemini, upstream_model
from omnigate.providers.gemini.response import blocked, to_openai
from omnigate.providers.gemini.stream import GeminiChunkStream, StreamTranslator
from omnigate.providers.http import HttpProvider

# A base URL may name the API version itself; without one, v1beta (the one with every feature).
_VERSIONED = re.compile(r"/v1(alpha|beta)?$")


class GeminiProvider(HttpProvider):
    failure_for_status = staticmethod(errors.failure_for_status)

    @staticmethod
    def api_root(base_url: str) -> str:
        return base_url if _VERSIONED.search(base_url) else base_url + "/v1beta"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    async def complete(self, body: dict, *, account_id: int) -> dict:
        model, request = self._translate(body)
        data = await self.read_json(await self._post(self._url(model, "generateContent"), request))
        if not isinstance(data, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        if not isinstance(data.get("candidates"), list) and not blocked(data):
            raise errors.invalid(self.name, "returned an answer without candidates")
        return to_openai(data, model=model)

    async def open_stream(self, body: dict, *, account_id: int) -> GeminiChunkStream:
        model, request = self._translate(body)
        response = await self._post(self._url(model, "streamGenerateContent") + "?alt=sse", request)
        if response.content_type != "text/event-stream":
            response.close()
            raise errors.invalid(self.name, "did not answer with an event stream")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        translator = StreamTranslator(model, provider=self.name, include_usage=include_usage)
        stream = GeminiChunkStream(response, translator)
        await stream.prime()
        return stream

    def _translate(self, body: dict) -> tuple[str, dict]:
        try:
            return upstream_model(body), to_gemini(body)
        except TranslationError as exc:
            # The body cannot be said in Gemini's terms; no other attempt of this kind would do better.
            raise UpstreamFailure(
                ApiError(
                    400, f"Gemini cannot take this request: {exc}", code="invalid_request", param=exc.param
                ),
                retryable=False,
            ) from exc

    def _url(self, model: str, method: str) -> str:
        # Tuned models live under their own collection; everything else is models/{name}.
        resource = model if model.startswith("tunedModels/") else f"models/{quote(model, safe='')}"
        return f"{self.base_url}/{resource}:{method}"

    async def _post(self, url: str, body: dict) -> aiohttp.ClientResponse:
        # A plain string, not HttpProvider.url(): the path names the model, so a cache keyed by
        # it would grow with every model ever asked for.
        return await self.post(url, orjson.dumps(body), self._headers)
