"""The HTTP plumbing every upstream adapter shares: one keep-alive pool per provider, the
post-and-check-the-status step, and the SSE splitters.

Adapters keep what differs between protocols (headers, URL rules, how a status and error body
map to an UpstreamFailure); the connection handling and the timeout/unreachable failures are
the same for every upstream, so they live here once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import ClassVar

import aiohttp
import orjson
from yarl import URL

from omnigate.errors import ApiError
from omnigate.providers.base import ChunkStream, StreamBroken, UpstreamFailure
from omnigate.providers.openai_compat.errors import timeout, unreachable
from omnigate.providers.redact import remember_secret

log = logging.getLogger(__name__)

# (provider, status, error body, Retry-After) → the failure the router sees.
FailureForStatus = Callable[[str, int, bytes, str | None], UpstreamFailure]


class HttpProvider:
    """Base of the upstream adapters. A subclass says what differs between protocols: how a
    configured base URL becomes the API root (`api_root`), how the key is sent (`auth_headers`),
    headers every request carries (`protocol_headers`) and how errors map (`failure_for_status`).
    """

    local = False
    serves_chat = True
    speaks_responses = False
    embeds = False
    markup: float | None = None
    reserve_credits = 0
    media_families: frozenset[str] = frozenset()
    task_families: frozenset[str] = frozenset()
    protocol_headers: ClassVar[dict[str, str]] = {}
    failure_for_status: ClassVar[FailureForStatus]

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
        self.base_url = self.api_root(base_url.rstrip("/"))
        # Upstream error messages quote the key they were sent; no client may read it back.
        remember_secret(api_key)
        # Configured headers may replace the protocol's (pin another API version, say); the key
        # is sent as the protocol wants it whatever the config says.
        self._headers = {
            "Content-Type": "application/json",
            **self.protocol_headers,
            **(headers or {}),
            **(self.auth_headers(api_key) if api_key else {}),
        }
        # No total limit: a long generation is fine as long as bytes keep coming.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, URL] = {}
        # Hooks on each upstream request (traces add the W3C traceparent header); set before start.
        self.trace_configs: list[aiohttp.TraceConfig] = []

    @staticmethod
    def api_root(base_url: str) -> str:
        """The root the adapter's paths are joined to (`base_url` without a trailing slash)."""
        return base_url

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        # No cookie jar: the session is shared by every account, upstream APIs set no cookies
        # worth keeping, and filtering them costs time on every request.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=self.trace_configs or None,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> URL:
        """`base_url + path`, parsed once per path: aiohttp would otherwise parse the URL string on
        every request. Only for a fixed set of paths; the cache is never trimmed."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    async def post(
        self, url: URL | str, body: bytes | aiohttp.FormData, headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        """The open upstream response once it answered 200; anything else is an UpstreamFailure."""
        return await self.send("POST", url, body=body, headers=headers)

    async def send(
        self,
        method: str,
        url: URL | str,
        *,
        headers: Mapping[str, str],
        body: bytes | aiohttp.FormData | None = None,
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> aiohttp.ClientResponse:
        """The open upstream response once it answered one of the `ok` statuses; anything else
        (a refusal, a timeout, a lost connection) is an UpstreamFailure saying which."""
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.request(method, url, data=body, headers=headers, params=params)
        except TimeoutError as exc:
            raise timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise unreachable(self.name, exc) from exc
        if response.status in ok:
            return response
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            # The status alone still says what went wrong.
            raw = b""
        finally:
            response.release()
        raise self.failure_for_status(self.name, response.status, raw, response.headers.get("Retry-After"))

    async def read_json(self, response: aiohttp.ClientResponse) -> object:
        """The parsed body of a 200 answer, or None when it is not JSON; the caller judges its shape."""
        try:
            raw = await response.read()
        except TimeoutError as exc:
            raise timeout(self.name) from exc
        except aiohttp.ClientError as exc:
            raise unreachable(self.name, exc) from exc
        finally:
            response.release()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None


class MediaOnlyProvider(HttpProvider):
    """Base of the adapters that serve media families only (Deepgram, fal): the router never
    sends them a chat model; should a request still get here, it is refused as not configured,
    retryably, so another deployment of the model may serve it."""

    serves_chat = False

    async def complete(self, body: dict, *, account_id: int) -> dict:
        raise self._no_chat()

    async def open_stream(self, body: dict, *, account_id: int) -> ChunkStream:
        raise self._no_chat()

    def _no_chat(self) -> UpstreamFailure:
        families = ", ".join(sorted(self.media_families))
        message = f"Service unavailable: provider {self.name!r} serves no chat (only {families})."
        return UpstreamFailure(ApiError(503, message, code="model_not_configured"), retryable=True)


def stream_broken(provider: str, what: str, code: str) -> StreamBroken:
    """A stream that failed after its first byte reached the client: "provider {name} {what}"."""
    return StreamBroken(ApiError(502, f"Bad Gateway: provider {provider!r} {what}.", code=code))


async def body_pieces(response: aiohttp.ClientResponse, provider: str) -> AsyncIterator[bytes]:
    """The bytes of a streaming answer as they arrive. A stall past the read timeout or a broken
    connection becomes StreamBroken: by then the client has bytes and only an error event is left."""
    try:
        async for piece in response.content.iter_any():
            yield piece
    except TimeoutError as exc:
        raise StreamBroken(
            ApiError(504, "Generation timeout: the upstream stopped sending.", code="upstream_timeout")
        ) from exc
    except aiohttp.ClientError as exc:
        # The exception names the upstream's host and port: the log gets it, the client does not.
        log.warning("the stream from provider %r broke: %s: %s", provider, type(exc).__name__, exc)
        raise stream_broken(provider, "stream broke", "upstream_broken") from exc


def parse_event(payload: bytes, provider: str) -> dict:
    """One stream event's JSON object; anything else breaks the stream."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        raise stream_broken(provider, "sent an invalid stream event", "upstream_invalid")
    return event


async def sse_data(pieces: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The payloads of the `data:` fields of an SSE byte stream, grouped by network read.

    Splits lines itself rather than using aiohttp's readline, which refuses lines over 128 KiB
    (a tool call's arguments or an inline image can be longer). The strip also drops the `\\r`
    of CRLF line ends (Google sends them).
    """
    buffer = b""
    async for piece in pieces:
        buffer += piece
        start = 0
        found = []
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            if line.startswith(b"data:"):
                found.append(line[5:].strip())
        buffer = buffer[start:]
        if found:
            yield found
    if buffer.startswith(b"data:"):
        yield [buffer[5:].strip()]


async def sse_events(pieces: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, bytes]]:
    """(event name, data) for each SSE event of a byte stream, however the bytes are split: the
    variant of `sse_data` for protocols whose `event:` names matter.

    Lines are split here for the same reason as in `sse_data`. An event's `data:` lines are joined
    with newlines; an event left unterminated by the end of the stream is still yielded.
    """
    buffer = b""
    event = ""
    data: list[bytes] = []
    async for piece in pieces:
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end].rstrip(b"\r")
            start = end + 1
            if not line:
                if data:
                    yield event, b"\n".join(data)
                event, data = "", []
            elif line.startswith(b"data:"):
                data.append(line[5:].strip())
            elif line.startswith(b"event:"):
                event = line[6:].strip().decode(errors="replace")
        buffer = buffer[start:]
    if buffer.startswith(b"data:"):
        data.append(buffer[5:].strip())
    if data:
        yield event, b"\n".join(data)
