"""fal.ai error bodies and statuses → the errors the gateway's clients see.

fal answers errors as `{"detail": ...}`: a sentence, or (422, an input its app's schema refused)
FastAPI's list of `{loc, msg, type}`, whose `loc` names the field. Statuses map as for every
upstream (openai_compat/errors.py): the transport failures, refused credentials, rate limits and
server errors are shared.
"""

from __future__ import annotations

import orjson

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

__all__ = ["failure_for_status", "invalid", "timeout", "unreachable"]


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    message, param = fal_message(raw)
    if status == 429:
        return rate_limited(provider, message, code=None, wait=seconds(retry_after), header=retry_after)
    if status in (401, 403):
        return refused(provider, status, message)
    if status >= 500 or status == 408:
        return server_error(provider, status, message)
    return request_refused(provider, status, message, param=param)


def fal_message(raw: bytes) -> tuple[str, str | None]:
    """The message of a fal error body and the input field it names, if it names one."""
    try:
        detail = orjson.loads(raw).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        detail = None
    if not isinstance(detail, list) or not detail:
        return upstream_message(raw)[0], None
    problems = []
    fields = []
    for item in detail:
        if not isinstance(item, dict):
            problems.append(str(item))
            continue
        # FastAPI's loc starts with where the value was: the body, for an app's input.
        loc = [str(part) for part in item.get("loc") or [] if part != "body"]
        field = ".".join(loc)
        fields.append(field)
        problems.append(f"{field}: {item.get('msg')}" if field else str(item.get("msg")))
    return "; ".join(problems), next((f for f in fields if f), None)
