"""Anthropic error bodies and statuses → the errors the gateway's clients see.

Anthropic answers `{"type": "error", "error": {"type": "<kind>", "message": "..."}}`. The rules are
those of the OpenAI-compatible adapter (openai_compat/errors.py), plus Anthropic's own statuses:
402 (the gateway's Anthropic account cannot pay) and 529 (overloaded).
"""

from __future__ import annotations

import orjson

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.openai_compat import errors as common
from omnigate.providers.openai_compat.errors import invalid, timeout, unreachable

__all__ = ["failure_for_status", "invalid", "mid_stream", "parse_error", "timeout", "unreachable"]

# The status Anthropic gives each error type; used for `error` events, which carry no status.
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def parse_error(raw: bytes) -> tuple[str, str | None]:
    """The message and error type of an Anthropic error body (or whatever a proxy sent instead)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        kind = err.get("type")
        message = err.get("message")
        return (str(message) if message else str(kind or "no error message")), (str(kind) if kind else None)
    # Not Anthropic's shape (a proxy's page, a bare string): the shared parser reads it.
    message, _, _ = common.upstream_message(raw)
    return message, None


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    if status == 402:
        # Like 401/403: the client did nothing wrong; the gateway's account with Anthropic did.
        message, _ = parse_error(raw)
        return common.refused(provider, status, message, "account")
    if status in (401, 403, 408, 429) or status >= 500:
        # 529 (overloaded) falls in >= 500: retryable, shown as 502.
        return common.failure_for_status(provider, status, raw, retry_after)
    message, kind = parse_error(raw)
    return common.request_refused(provider, status, message, code=kind)


def mid_stream(provider: str, raw: bytes) -> ApiError:
    """The error for an `error` event after the stream began: the status its type stands for,
    mapped as if it had come before the first byte."""
    message, kind = parse_error(raw)
    status = STATUS_OF_TYPE.get(kind or "", 502)
    if status >= 500:
        return common.failed_mid_stream(provider, message)
    return failure_for_status(provider, status, raw, None).error
