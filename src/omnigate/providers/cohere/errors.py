"""Cohere error bodies and statuses → the errors the gateway's clients see.

Cohere answers errors as `{"id": ..., "message": ...}` (sometimes without the id). The transport
failures (timeout, unreachable, invalid body) read the same as for any other upstream, so they
are shared with the OpenAI-compatible backend.
"""

from __future__ import annotations

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.openai_compat.errors import (
    invalid,
    rate_limited,
    refused,
    request_refused,
    seconds,
    server_error,
    timeout,
    unreachable,
    upstream_message,
)

__all__ = ["failure_for_status", "invalid", "timeout", "unreachable", "unsupported"]

# Statuses that describe the gateway's own standing with Cohere, never the client's request:
# 401/403 bad or revoked key, 402 the operator's Cohere billing, 498 an invalid or expired token.
_CREDENTIAL_STATUSES = {401: "credentials", 403: "credentials", 498: "credentials", 402: "billing"}


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    message, _, _ = upstream_message(raw)
    if status == 429:
        return rate_limited(provider, message, code=None, wait=seconds(retry_after), header=retry_after)
    what = _CREDENTIAL_STATUSES.get(status)
    if what is not None:
        return refused(provider, status, message, what)
    # 499 is Cohere saying the request was cancelled; the gateway did not cancel this one, so
    # it is an upstream hiccup like a 5xx and another deployment may well answer.
    if status >= 500 or status in (408, 499):
        return server_error(provider, status, message)
    # Other 4xx (400, 404, 422): the request itself was refused.
    return request_refused(provider, status, message)


def unsupported(provider: str, error: ApiError) -> UpstreamFailure:
    """A request that cannot be said in Cohere's protocol (an audio part, n > 1, ...).

    Retryable: another deployment of the same model may speak a protocol that carries it; when
    none does, the client gets this 400 as the last failure.
    """
    message = f"{error.message} (provider {provider!r} speaks Cohere's v2 chat protocol)"
    return UpstreamFailure(ApiError(400, message, code=error.code, param=error.param), retryable=True)
