"""Backend for Anthropic's Messages API (`POST /v1/messages`).

Bodies arrive in OpenAI's shape and are translated both ways (request.py, response.py,
stream.py), so clients keep speaking OpenAI's protocol to Claude models. One keep-alive
connection pool per provider, as for the OpenAI-compatible backend.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from omnigate.errors import ApiError
from omnigate.providers.anthropic import errors
from omnigate.providers.anthropic.request import TranslationError, to_messages_body
from omnigate.providers.anthropic.response import to_chat_completion
from omnigate.providers.anthropic.stream import AnthropicChunkStream
from omnigate.providers.base import UpstreamFailure

API_VERSION = "2023-06-01"


class AnthropicProvider:
    local = False

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        api_key: str | None,
        headers: dict[str, str] | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 300.0,
    ) -> None:
        self.name = name
        root = base_url.rstrip("/")
        # Configs name either the host (Anthropic's documented base URL) or the /v1 root that
        # OpenAI-style configs use; both mean the same endpoint.
        root = root.removesuffix("/v1")
        self.base_url = root
        self._url = root + "/v1/messages"
        # Configured headers come last so a config can pin another API version or add
        # `anthropic-beta` flags.
        self._headers = {
            "content-type": "application/json",
            "anthropic-version": API_VERSION,
            **(headers or {}),
        }
        if api_key:
            self._headers["x-api-key"] = api_key
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, body: dict, *, account_id: int) -> dict:
        payload = self._translate({**body, "stream": False})
        response = await self._post(payload)
        try:
            raw = await response.read()
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc
        finally:
            response.release()
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = None
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
        """The open upstream response once it answered 200; anything else is an UpstreamFailure."""
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.post(self._url, data=orjson.dumps(payload), headers=self._headers)
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc
        if response.status == 200:
            return response
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raw = b""
        finally:
            response.release()
        raise errors.failure_for_status(self.name, response.status, raw, response.headers.get("Retry-After"))
