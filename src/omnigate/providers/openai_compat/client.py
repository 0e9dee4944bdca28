"""HTTP client for upstreams that speak OpenAI's wire protocol (OpenAI, vLLM, Ollama, llama.cpp, ...).

One keep-alive connection pool per provider. `post` returns the open upstream response once it has
answered 200; anything else becomes an `UpstreamFailure` that says whether another deployment may
be tried and which error the client should see.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from omnigate.errors import ApiError


class UpstreamFailure(Exception):
    def __init__(self, error: ApiError, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


class OpenAICompatProvider:
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
        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, path: str, body: bytes) -> aiohttp.ClientResponse:
        assert self._session is not None, "provider used before start()"
        try:
            response = await self._session.post(self.base_url + path, data=body, headers=self._headers)
        except TimeoutError as exc:
            raise UpstreamFailure(
                ApiError(
                    504,
                    f"Generation timeout: provider {self.name!r} did not answer in time.",
                    code="upstream_timeout",
                ),
                retryable=True,
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamFailure(
                ApiError(
                    502,
                    f"Bad Gateway: could not reach provider {self.name!r} ({exc}).",
                    code="upstream_unreachable",
                ),
                retryable=True,
            ) from exc
        if response.status == 200:
            return response
        try:
            raw = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raw = b""
        finally:
            response.release()
        raise _failure(self.name, response.status, raw, response.headers.get("Retry-After"))


def upstream_message(raw: bytes) -> tuple[str, str | None, str | None]:
    """The message, param and code of an upstream error body, whatever its dialect."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode(errors="replace").strip()
        return (text[:500] or "no error message"), None, None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            return str(err.get("message") or err), err.get("param"), str(code) if code else None
        if isinstance(err, str):
            return err, None, None
        for key in ("message", "detail"):
            if data.get(key):
                return str(data[key]), None, None
    return str(data)[:500], None, None


def _failure(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    message, param, code = upstream_message(raw)
    delay = _seconds(retry_after)
    if status == 429:
        headers = {"Retry-After": retry_after} if retry_after else None
        return UpstreamFailure(
            ApiError(429, f"Too Many Requests: {message}", code=code or "rate_limited", headers=headers),
            retryable=True,
            retry_after=delay,
        )
    if status in (401, 403):
        # The client's key is fine; the gateway's credentials for this provider are not.
        return UpstreamFailure(
            ApiError(
                502,
                f"Bad Gateway: provider {provider!r} refused the gateway's credentials ({status}: {message})",
                code="upstream_auth",
            ),
            retryable=True,
        )
    if status >= 500 or status == 408:
        return UpstreamFailure(
            ApiError(
                502,
                f"Bad Gateway: provider {provider!r} answered {status}: {message}",
                code="upstream_error",
            ),
            retryable=True,
        )
    # Other 4xx: the request itself was refused; the client sees the upstream's own words.
    return UpstreamFailure(ApiError(status, message, code=code, param=param), retryable=False)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def close_quietly(response: aiohttp.ClientResponse) -> None:
    """Drop an upstream response mid-body: closing the connection cancels the generation."""
    response.close()
    await asyncio.sleep(0)
