"""Upstream error bodies and statuses → the errors the gateway's clients see."""

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
        headers = {"Retry-After": retry_after} if retry_after else None
        return UpstreamFailure(
            ApiError(429, f"Too Many Requests: {message}", code=code or "rate_limited", headers=headers),
            retryable=True,
            retry_after=_seconds(retry_after),
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
                502, f"Bad Gateway: provider {provider!r} answered {status}: {message}", code="upstream_error"
            ),
            retryable=True,
        )
    # Other 4xx: the request itself was refused; the client sees the upstream's own words.
    return UpstreamFailure(ApiError(status, message, code=code, param=param), retryable=False)


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


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
