"""The guarded fetcher against real sockets: what a client's URL may and may not make it fetch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from omnigate.errors import ApiError
from omnigate.http.fetch import Fetcher, public_address


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A server on 127.0.0.1: a file, a big file, and a redirect to the file."""

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"RIFF....WAVE", content_type="audio/wav")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/octet-stream")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/small.wav")

    app = web.Application()
    app.router.add_get("/small.wav", small)
    app.router.add_get("/big", big)
    app.router.add_get("/hop", hop)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def fetcher(*, allow_private: bool, max_bytes: int = 1000) -> Fetcher:
    f = Fetcher(allow_private=allow_private, max_bytes=max_bytes, timeout_s=5)
    await f.start()
    return f


def test_which_addresses_are_public() -> None:
    assert public_address("93.184.215.14") and public_address("2606:4700::1111")
    for private in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fc00::1", "0.0.0.0"):
        assert not public_address(private), private
    assert not public_address("::ffff:127.0.0.1")  # an IPv4 loopback dressed as IPv6


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "http://[::1]:8000/v1/admin/keys",
        "http://localhost:6379/",  # a name that resolves to loopback
        "file:///etc/passwd",
        "ftp://example.com/a.wav",
    ],
)
async def test_a_clients_url_never_reaches_private_addresses(url: str) -> None:
    f = await fetcher(allow_private=False)
    try:
        with pytest.raises(ApiError) as refused:
            await f.fetch(url, "url")
        assert refused.value.status == 400 and refused.value.param == "url"
    finally:
        await f.close()


async def test_a_redirect_is_checked_like_the_first_url(site: str) -> None:
    f = await fetcher(allow_private=False)
    try:
        with pytest.raises(ApiError, match="private address"):
            await f.fetch(site + "/hop", "url")
    finally:
        await f.close()


async def test_with_private_addresses_allowed_it_fetches_and_follows_redirects(site: str) -> None:
    f = await fetcher(allow_private=True)
    try:
        got = await f.fetch(site + "/hop", "audio")
        assert (got.data, got.content_type, got.filename) == (b"RIFF....WAVE", "audio/wav", "small.wav")
        with pytest.raises(ApiError) as too_big:
            await f.fetch(site + "/big", "audio")
        assert too_big.value.status == 413
        with pytest.raises(ApiError, match="answered 404"):
            await f.fetch(site + "/missing", "audio")
    finally:
        await f.close()


async def test_an_upstreams_own_url_is_trusted(site: str) -> None:
    f = await fetcher(allow_private=False)
    try:
        got = await f.fetch(site + "/small.wav", "data.url", trusted=True)
        assert got.data.startswith(b"RIFF")
    finally:
        await f.close()
