"""Backend for upstreams that speak OpenAI's wire protocol (OpenAI, vLLM, Ollama, llama.cpp, ...).

One keep-alive connection pool per provider. Request bodies are already in OpenAI's shape, so they
go out as they are; answers come back as dicts for the gateway to bill and relay.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from yarl import URL

from omnigate.providers.openai_compat import errors
from omnigate.providers.openai_compat.quirks import apply_quirks
from omnigate.providers.openai_compat.stream import SSEChunkStream


class OpenAICompatProvider:
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
        quirks: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.quirks = quirks or {}
        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        # No cookie jar: upstream APIs set no cookies worth keeping, and filtering them costs
        # time on every request.
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, body: dict, *, account_id: int) -> dict:
        completion = await self._post_json("/chat/completions", apply_quirks(body, self.quirks))
        if not isinstance(completion.get("choices"), list):
            raise errors.invalid(self.name, "returned an invalid chat completion")
        return completion

    async def open_stream(self, body: dict, *, account_id: int) -> SSEChunkStream:
        response = await self._post("/chat/completions", apply_quirks(body, self.quirks))
        if response.content_type != "text/event-stream":
            response.close()
            raise errors.invalid(self.name, "did not answer with an event stream")
        return SSEChunkStream(response, self.name)

    async def embed(self, body: dict, *, account_id: int) -> dict:
        result = await self._post_json("/embeddings", body)
        if not isinstance(result.get("data"), list):
            raise errors.invalid(self.name, "returned an invalid embeddings answer")
        return result

    async def _post_json(self, path: str, body: dict) -> dict:
        response = await self._post(path, body)
        try:
            raw = await response.read()
        except TimeoutError as exc:
            raise errors.timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise errors.unreachable(self.name, exc) from exc
        finally:
            response.release()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise errors.invalid(self.name, "returned a body that is not a JSON object")
        return data

    def _url(self, path: str) -> URL:
        # Parsed once per path: aiohttp would otherwise parse the URL string on every request.
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    async def _post(self, path: str, body: dict) -> aiohttp.ClientResponse:
        """The open upstream response once it answered 200; anything else is an UpstreamFailure."""
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.post(
                self._url(path), data=orjson.dumps(body), headers=self._headers
            )
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
