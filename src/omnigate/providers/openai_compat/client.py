"""Backend for upstreams that speak OpenAI's wire protocol (OpenAI, vLLM, Ollama, llama.cpp, ...).

One keep-alive connection pool per provider (providers/http.py). Request bodies are already in
OpenAI's shape, so they go out as they are; answers come back as dicts for the gateway to bill and
relay. With `responses`, the upstream also takes Responses API bodies at /responses. The media
families (images, speech, transcriptions) go to OpenAI's media endpoints (media.py), video tasks to
its Videos API (videos.py).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from omnigate.providers.openai_compat import errors
from omnigate.providers.openai_compat.quirks import apply_quirks
from omnigate.providers.openai_compat.stream import SSEChunkStream, SSEResponseEventStream
from omnigate.providers.openai_compat.videos import OpenAIVideos


class OpenAICompatProvider(OpenAIVideos):
    embeds = True
    # "translate": /v1/audio/translations routes only to backends that can translate speech.
    media_families = frozenset({"image", "image-edit", "tts", "stt", "translate"})
    # Sora, through OpenAI's Videos API (videos.py).
    task_families = frozenset({"video"})
    failure_for_status = staticmethod(errors.failure_for_status)

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        quirks: dict[str, Any] | None = None,
        responses: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(name, base_url, **common)
        self.quirks = quirks or {}
        self.speaks_responses = responses

    async def complete(self, body: dict, *, account_id: int) -> dict:
        completion = await self._post_json("/chat/completions", apply_quirks(body, self.quirks))
        if not isinstance(completion.get("choices"), list):
            raise errors.invalid(self.name, "returned an invalid chat completion")
        return completion

    async def open_stream(self, body: dict, *, account_id: int) -> SSEChunkStream:
        response = await self._post_stream("/chat/completions", apply_quirks(body, self.quirks))
        return SSEChunkStream(response, self.name)

    async def respond(self, body: dict) -> dict:
        """A Responses API answer. Quirks do not apply: they rewrite chat-completions fields."""
        response = await self._post_json("/responses", body)
        if response.get("object") != "response" or not isinstance(response.get("output"), list):
            raise errors.invalid(self.name, "returned an invalid Response object")
        return response

    async def open_response_stream(self, body: dict) -> SSEResponseEventStream:
        return SSEResponseEventStream(await self._post_stream("/responses", body), self.name)

    async def embed(self, body: dict, *, account_id: int) -> dict:
        result = await self._post_json("/embeddings", body)
        if not isinstance(result.get("data"), list):
            raise errors.invalid(self.name, "returned an invalid embeddings answer")
        return result

    async def _post_json(self, path: str, body: dict) -> dict:
        data = await self.read_json(await self._post(path, body))
        if not isinstance(data, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        return data

    async def _post_stream(self, path: str, body: dict) -> aiohttp.ClientResponse:
        response = await self._post(path, body)
        if response.content_type != "text/event-stream":
            response.close()
            raise errors.invalid(self.name, "did not answer with an event stream")
        return response

    async def _post(self, path: str, body: dict) -> aiohttp.ClientResponse:
        return await self.post(self.url(path), orjson.dumps(body), self._headers)
