"""Backend for Google's Gemini API (generativelanguage.googleapis.com and look-alikes).

One keep-alive connection pool per provider, like the OpenAI-compatible backend. Bodies arrive in
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

# A base URL may name the API version itself; without one, v1beta (the one with every feature).
_VERSIONED = re.compile(r"/v1(alpha|beta)?$")


class GeminiProvider:
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
        base = base_url.rstrip("/")
        self.base_url = base if _VERSIONED.search(base) else base + "/v1beta"
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["x-goog-api-key"] = api_key
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        # No cookie jar: Google sets no cookies worth keeping, and filtering them costs time on
        # every request.
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, body: dict, *, account_id: int) -> dict:
        model, request = self._translate(body)
        response = await self._post(self._url(model, "generateContent"), request)
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
        """The open upstream response once it answered 200; anything else is an UpstreamFailure."""
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.post(url, data=orjson.dumps(body), headers=self._headers)
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
