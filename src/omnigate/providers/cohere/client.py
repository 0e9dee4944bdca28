"""Backend for Cohere's v2 Chat API.

One keep-alive connection pool per provider, like the OpenAI-compatible backend. Bodies are
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

CHAT_PATH = "/v2/chat"


class CohereProvider:
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
        # Configs give either the API root or the v2 base the SDKs print; both mean the same.
        self.base_url = root.removesuffix("/v2")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
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
        request = self._translate({**body, "stream": False})
        response = await self._post(request, accept="application/json")
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
        """The open upstream response once it answered 200; anything else is an UpstreamFailure."""
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.post(
                self.base_url + CHAT_PATH,
                data=orjson.dumps(body),
                headers={**self._headers, "Accept": accept},
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
