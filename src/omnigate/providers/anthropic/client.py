"""Backend for Anthropic's Messages API (`POST /v1/messages`).

Bodies arrive in OpenAI's shape and are translated both ways (request.py, response.py,
stream.py), so clients keep speaking OpenAI's protocol to Claude models. One keep-alive
connection pool per provider (providers/http.py), as for every upstream adapter.
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp
import orjson

from omnigate.errors import ApiError
from omnigate.providers.anthropic import errors
from omnigate.providers.anthropic.request import TranslationError, to_messages_body
from omnigate.providers.anthropic.response import to_chat_completion
from omnigate.providers.anthropic.stream import AnthropicChunkStream
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.http import HttpProvider

API_VERSION = "2023-06-01"


class AnthropicProvider(HttpProvider):
    protocol_headers: ClassVar[dict[str, str]] = {"anthropic-version": API_VERSION}
    failure_for_status = staticmethod(errors.failure_for_status)

    @staticmethod
    def api_root(base_url: str) -> str:
        # Configs name either the host (Anthropic's documented base URL) or the /v1 root that
        # OpenAI-style configs use; both mean the same endpoint.
        return base_url.removesuffix("/v1")

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    async def complete(self, body: dict, *, account_id: int) -> dict:
        payload = self._translate({**body, "stream": False})
        message = await self.read_json(await self._post(payload))
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise errors.invalid(self.name, "returned an invalid message")
        return to_chat_completion(message)

    async def open_stream(self, body: dict, *, account_id: int) -> AnthropicChunkStream:
        payload = self._translate({**body, "stream": True})
        response = await self._post(payload)
        if response.content_type != "text/event-stream":
            response.close()
            raise errors.invalid(self.name, "did not answer with an event stream")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return AnthropicChunkStream(response, self.name, include_usage=include_usage)

    def _translate(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return to_messages_body(body)
        except TranslationError as exc:
            # Retryable: the limit is this adapter's, and another deployment of the model (one
            # that speaks OpenAI's protocol) may well accept the request. With none left, the
            # client gets this 400.
            raise UpstreamFailure(
                ApiError(400, str(exc), code="unsupported_by_provider", param=exc.param), retryable=True
            ) from exc

    async def _post(self, payload: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.post(self.url("/v1/messages"), orjson.dumps(payload), self._headers)
