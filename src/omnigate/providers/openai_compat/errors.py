"""Upstream error bodies and statuses → the errors the gateway's clients see.

The failures every protocol shares (rate limits, refused credentials, server errors, timeouts,
unreachable or invalid upstreams) are built here; the other adapters' error modules map their
own statuses and bodies onto them.

The client learns which kind of failure happened. The upstream's own words reach it only where
they are all there is to say what went wrong with its request (a refused 4xx, an error event
mid-stream), and then scrubbed (providers/redact.py); the log gets them whole, for the operator.
"""

from __future__ import annotations

import logging

import orjson

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.redact import scrub

log = logging.getLogger(__name__)


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
        return rate_limited(provider, message, code=code, wait=seconds(retry_after), header=retry_after)
    if status in (401, 403):
        return refused(provider, status, message)
    if status >= 500 or status == 408:
        return server_error(provider, status, message)
    return request_refused(provider, status, message, code=code, param=param)


def request_refused(
    provider: str, status: int, message: str, *, code: str | None = None, param: str | None = None
) -> UpstreamFailure:
    """A 4xx about the client's request: the upstream's words say what to fix, so they stay,
    scrubbed of whatever they reveal about the gateway."""
    scrubbed = scrub(message)
    if scrubbed != message:
        log.info("provider %r refused a request (%d): %s", provider, status, message)
    return UpstreamFailure(ApiError(status, scrubbed, code=code, param=param), retryable=False)


def rate_limited(
    provider: str, message: str, *, code: str | None, wait: float | None, header: str | None
) -> UpstreamFailure:
    """A 429, passed on with the upstream's Retry-After; another deployment may have room. Its
    words (which name the operator's organisation and limits) are for the log."""
    log.warning("provider %r rate limited the gateway (429): %s", provider, message)
    headers = {"Retry-After": header} if header else None
    return UpstreamFailure(
        ApiError(
            429,
            f"Too Many Requests: provider {provider!r} rate limited the gateway (429).",
            code=code or "rate_limited",
            headers=headers,
        ),
        retryable=True,
        retry_after=wait,
    )


def refused(provider: str, status: int, message: str, what: str = "credentials") -> UpstreamFailure:
    """The client's key is fine; the gateway's credentials (or its account) with the provider
    are not. A 502 the operator must fix; another deployment may still answer. The upstream's
    words quote the gateway's key, so only the log gets them."""
    log.warning("provider %r refused the gateway's %s (%d): %s", provider, what, status, message)
    return UpstreamFailure(
        ApiError(
            502,
            f"Bad Gateway: provider {provider!r} refused the gateway's {what} ({status}).",
            code="upstream_auth" if what == "credentials" else "upstream_billing",
        ),
        retryable=True,
    )


# What each server-side status tells the client; any other is "had a server error".
_SERVER_TROUBLE = {
    408: "timed out",
    499: "cancelled the request",  # Cohere's, for a request it dropped itself
    503: "is unavailable",
    504: "timed out",
    529: "is overloaded",  # Anthropic's
}


def server_error(provider: str, status: int, message: str) -> UpstreamFailure:
    """A 5xx (or 408): the kind of trouble for the client, the upstream's words (which can name
    internal hosts and the operator's account) for the log."""
    log.warning("provider %r answered %d: %s", provider, status, message)
    trouble = _SERVER_TROUBLE.get(status, "had a server error")
    return UpstreamFailure(
        ApiError(502, f"Bad Gateway: provider {provider!r} {trouble} ({status}).", code="upstream_error"),
        retryable=True,
    )


def failed_mid_stream(provider: str, message: str) -> ApiError:
    """An upstream error event after the stream began: logged whole, told to the client scrubbed."""
    log.warning("provider %r failed mid-stream: %s", provider, message)
    return ApiError(
        502, f"Bad Gateway: provider {provider!r} failed mid-stream: {scrub(message)}", code="upstream_error"
    )


def timeout(provider: str) -> UpstreamFailure:
    return UpstreamFailure(
        ApiError(
            504, f"Generation timeout: provider {provider!r} did not answer in time.", code="upstream_timeout"
        ),
        retryable=True,
    )


def unreachable(provider: str, exc: Exception) -> UpstreamFailure:
    """The connection failed; its exception names the upstream's host and port, so only the log
    gets it."""
    log.warning("the connection to provider %r failed: %s: %s", provider, type(exc).__name__, exc)
    return UpstreamFailure(
        ApiError(
            502, f"Bad Gateway: the connection to provider {provider!r} failed.", code="upstream_unreachable"
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
