"""Backend for Cohere's v2 Chat API.

One keep-alive connection pool per provider (providers/http.py), like every upstream adapter. Bodies are
translated on the way out (request.py) and back (response.py, stream.py), so the gateway sees
the same OpenAI-shaped dicts whichever protocol served the model.
"""

from __future__ import annotations

import time

import aiohttp
import orjson

from omnigate.errors import ApiError
from omnigate.providers.cohere import errors
from omnigate.providers.cohere.request import to_cohere
from omnigate.providers.cohere.response import InvalidResponse, to_openai
from omnigate.providers.cohere.stream import ChunkTranslator, CohereChunkStream
from omnigate.providers.http import HttpProvider

CHAT_PATH = "/v2/chat"


class CohereProvider(HttpProvider):
    failure_for_status = staticmethod(errors.failure_for_status)

    @staticmethod
    def api_root(base_url: str) -> str:
        # Configs give either the API root or the v2 base the SDKs print; both mean the same.
        return base_url.removesuffix("/v2")

    async def complete(self, body: dict, *, account_id: int) -> dict:
        request = self._translate({**body, "stream": False})
        data = await self.read_json(await self._post(request, accept="application/json"))
        if not isinstance(data, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        try:
            return to_openai(data, model=str(body.get("model")), created=int(time.time()))
        except InvalidResponse as exc:
            raise errors.invalid(self.name, str(exc)) from exc

    async def open_stream(self, body: dict, *, account_id: int) -> CohereChunkStream:
        request = self._translate({**body, "stream": True})
        response = await self._post(request, accept="text/event-stream")
        if response.content_type == "application/json":
            # A whole JSON answer to a stream request cannot be relayed chunk by chunk.
            response.close()
            raise errors.invalid(self.name, "did not answer with an event stream")
        options = body.get("stream_options")
        translator = ChunkTranslator(
            self.name,
            model=str(body.get("model")),
            created=int(time.time()),
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )
        return CohereChunkStream(response, translator)

    def _translate(self, body: dict) -> dict:
        try:
            return to_cohere(body)
        except ApiError as exc:
            raise errors.unsupported(self.name, exc) from exc

    async def _post(self, body: dict, *, accept: str) -> aiohttp.ClientResponse:
        return await self.post(self.url(CHAT_PATH), orjson.dumps(body), {**self._headers, "Accept": accept})
