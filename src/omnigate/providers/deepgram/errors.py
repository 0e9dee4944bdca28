"""Deepgram error bodies and statuses → the errors the gateway's clients see.

Deepgram answers errors in two dialects: `{"err_code", "err_msg", "request_id"}` and, on newer
routes, `{"category", "message", "details", "request_id"}`. Statuses map as for any other
upstream (openai_compat/errors.py), and the transport failures are shared with it.
"""

from __future__ import annotations

import re

import orjson

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

__all__ = [
    "deepgram_message",
    "failure_for_status",
    "invalid",
    "refused_request",
    "timeout",
    "unreachable",
]

# Codes worth passing on to the client ("INVALID_JSON"); the legacy dialect also puts plain
# words there ("Bad Request"), which say nothing the status does not.
_CODE = re.compile(r"[A-Za-z_]+")


def deepgram_message(raw: bytes) -> tuple[str, str | None]:
    """The message and code of a Deepgram error body, in either dialect."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and (data.get("err_msg") or data.get("message")):
        message = str(data.get("err_msg") or data.get("message"))
        if data.get("details"):
            # The modern dialect's message is a category's headline; the details say what to fix.
            message = f"{message} {data['details']}"
        code = data.get("err_code") or data.get("category")
        return message, str(code) if code and _CODE.fullmatch(str(code)) else None
    message, _, code = upstream_message(raw)
    return message, code


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    message, code = deepgram_message(raw)
    if status == 429:
        return rate_limited(provider, message, code=None, wait=seconds(retry_after), header=retry_after)
    if status in (401, 403):
        return refused(provider, status, message)
    # A 402 is the operator's Deepgram balance, never the client's request.
    if status == 402:
        return refused(provider, status, message, "billing")
    if status >= 500 or status == 408:
        return server_error(provider, status, message)
    return request_refused(provider, status, message, code=code)


def refused_request(error: ApiError) -> UpstreamFailure:
    """A request that cannot be put in Deepgram's terms (no audio, a callback, an option that is
    not a scalar). Not retryable: it is the client's to fix, and no deployment should cool
    down over it."""
    return UpstreamFailure(error, retryable=False)
