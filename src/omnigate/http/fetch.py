"""Fetching a URL on a client's behalf (audio to transcribe, an image to edit), safely.

A URL a client gives could point the gateway at its own network: the admin routes, a cloud
metadata service, a database. Unless the operator allows private addresses, only http(s) URLs
whose host resolves to public addresses are fetched, and the connection goes to the address
that was checked (the resolver refuses, so a second, different answer cannot slip in).
Redirects are followed by hand, each one checked again. Bodies are capped in size and time.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from omnigate.errors import ApiError, bad_request
from omnigate.providers.media import Upload

MAX_REDIRECTS = 5


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then refuses a host with any non-public address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for entry in found:
            if not public_address(entry["host"]):
                raise _Private(host)
        return found

    async def close(self) -> None:
        await self._inner.close()


class _Private(OSError):
    def __init__(self, host: str) -> None:
        super().__init__(f"{host} resolves to a private address")
        self.host = host


class Fetcher:
    """One session for every fetch of a gateway; `fetch(url, field)` is what media jobs call."""

    def __init__(self, *, allow_private: bool, max_bytes: int, timeout_s: float) -> None:
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        resolver: Any = DefaultResolver() if self.allow_private else _PublicOnlyResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver, limit=64),
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, field: str = "url", *, trusted: bool = False) -> Upload:
        """The body at `url`, or a 400 naming `field` (413 past the size limit). `trusted`: a URL
        an upstream answered with (it may be on the operator's own network), not a client's."""
        assert self._session is not None, "fetcher used before start()"
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check(current, field, trusted)
            try:
                async with self._session.get(URL(current, encoded=True), allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        current = str(response.url.join(URL(response.headers["Location"])))
                        continue
                    if response.status != 200:
                        raise bad_request(f"{field}: fetching {url} answered {response.status}", param=field)
                    data = await self._read(response, field)
                    content_type = response.headers.get("Content-Type", "application/octet-stream")
                    name = urlsplit(current).path.rsplit("/", 1)[-1] or "file"
                    return Upload(field, name, content_type.split(";", 1)[0].strip(), data)
            except _Private as exc:
                if trusted:
                    raise
                raise bad_request(
                    f"{field}: {exc.host} is a private address; the gateway fetches only public URLs",
                    param=field,
                ) from exc
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise bad_request(
                    f"{field}: fetching {url} failed ({type(exc).__name__})", param=field
                ) from exc
        raise bad_request(f"{field}: {url} redirects more than {MAX_REDIRECTS} times", param=field)

    def _check(self, url: str, field: str, trusted: bool) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request(f"{field}: only http(s) URLs can be fetched", param=field)
        if self.allow_private or trusted:
            return
        try:
            literal = public_address(parts.hostname)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not literal:
            raise bad_request(
                f"{field}: {parts.hostname} is a private address; the gateway fetches only public URLs",
                param=field,
            )

    async def _read(self, response: aiohttp.ClientResponse, field: str) -> bytes:
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise _too_large(field, self.max_bytes)
        chunks = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise _too_large(field, self.max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(field: str, limit: int) -> ApiError:
    return ApiError(
        413, f"{field}: the file is larger than {limit} bytes", code="body_too_large", param=field
    )
