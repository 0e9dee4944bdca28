"""Upstream error bodies and statuses → the errors the gateway's clients see.

The failures every protocol shares (rate limits, refused credentials, server errors, timeouts,
unreachable or invalid upstreams) are built here; the other adapters' error modules map their
own statuses and bodies onto them.
"""

from __future__ import annotations

import orjson

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure


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


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    message, param, code = upstream_message(raw)
    if status == 429:
        return rate_limited(message, code=code, wait=seconds(retry_after), header=retry_after)
    if status in (401, 403):
        return refused(provider, status, message)
    if status >= 500 or status == 408:
        return server_error(provider, status, message)
    # Other 4xx: the request itself was refused; the client sees the upstream's own words.
    return UpstreamFailure(ApiError(status, message, code=code, param=param), retryable=False)


def rate_limited(
    message: str, *, code: str | None, wait: float | None, header: str | None
) -> UpstreamFailure:
    """A 429, passed on with the upstream's Retry-After; another deployment may have room."""
    headers = {"Retry-After": header} if header else None
    return UpstreamFailure(
        ApiError(429, f"Too Many Requests: {message}", code=code or "rate_limited", headers=headers),
        retryable=True,
        retry_after=wait,
    )


def refused(provider: str, status: int, message: str, what: str = "credentials") -> UpstreamFailure:
    """The client's key is fine; the gateway's credentials (or its account) with the provider
    are not. A 502 the operator must fix; another deployment may still answer."""
    return UpstreamFailure(
        ApiError(
            502,
            f"Bad Gateway: provider {provider!r} refused the gateway's {what} ({status}: {message})",
            code="upstream_auth" if what == "credentials" else "upstream_billing",
        ),
        retryable=True,
    )


def server_error(provider: str, status: int, message: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(
            502, f"Bad Gateway: provider {provider!r} answered {status}: {message}", code="upstream_error"
        ),
        retryable=True,
    )


def timeout(provider: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(
            504, f"Generation timeout: provider {provider!r} did not answer in time.", code="upstream_timeout"
        ),
        retryable=True,
    )


def unreachable(provider: str, exc: Exception) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(
            502,
            f"Bad Gateway: the connection to provider {provider!r} failed ({exc}).",
            code="upstream_unreachable",
        ),
        retryable=True,
    )


def invalid(provider: str, what: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(502, f"Bad Gateway: provider {provider!r} {what}.", code="upstream_invalid"), retryable=True
    )


def seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (None when absent or not a number)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
