"""Google error bodies (`{"error": {code, message, status, details}}`) → gateway failures.

The status mapping is the one of the OpenAI-compatible backend (openai_compat/errors.py); what
differs is where Google puts things: the code is a gRPC status name, a bad key is a 400 with reason
API_KEY_INVALID, and a quota error says when to retry in a RetryInfo detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from omnigate.providers.base import UpstreamFailure
from omnigate.providers.openai_compat import errors as common
from omnigate.providers.openai_compat.errors import invalid, timeout, unreachable

__all__ = [
    "GoogleError",
    "failure_for_status",
    "invalid",
    "parse_error",
    "timeout",
    "unreachable",
]


@dataclass(slots=True)
class GoogleError:
    message: str
    status: str | None = None  # "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", ...
    reason: str | None = None  # ErrorInfo.reason, e.g. "API_KEY_INVALID"
    field: str | None = None  # the first BadRequest field violation
    retry_delay: float | None = None  # RetryInfo.retryDelay, in seconds

    @property
    def code(self) -> str | None:
        return self.status.lower() if self.status else None


def parse_error(data: object) -> GoogleError:
    """Read a Google error from a decoded body (or from raw bytes that may not be JSON)."""
    if isinstance(data, bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            text = data.decode(errors="replace").strip()
            return GoogleError(text[:500] or "no error message")
    if isinstance(data, list) and data:
        data = data[0]  # the non-SSE stream endpoint wraps everything in a JSON array
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return GoogleError(str(err or data)[:500])
    found = GoogleError(str(err.get("message") or err), err.get("status"))
    for detail in err.get("details") or ():
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("ErrorInfo"):
            found.reason = detail.get("reason")
        elif kind.endswith("RetryInfo"):
            found.retry_delay = _seconds(detail.get("retryDelay"))
        elif kind.endswith("BadRequest"):
            violations = detail.get("fieldViolations") or [{}]
            found.field = violations[0].get("field") if isinstance(violations[0], dict) else None
    return found


def failure_for_status(provider: str, status: int, raw: bytes, retry_after: str | None) -> UpstreamFailure:
    err = parse_error(raw)
    if status == 429:
        wait = _seconds(retry_after) if retry_after else err.retry_delay
        header = f"{wait:g}" if wait is not None else None
        return common.rate_limited(provider, err.message, code=err.code, wait=wait, header=header)
    if status in (401, 403) or err.reason in ("API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"):
        return common.refused(provider, status, err.message)
    if status >= 500 or status == 408:
        return common.server_error(provider, status, err.message)
    return common.request_refused(provider, status, err.message, code=err.code, param=err.field)


def _seconds(value: object) -> float | None:
    # Retry-After is "30"; RetryInfo.retryDelay is a protobuf Duration, "37s" or "1.5s".
    if not isinstance(value, str | int | float):
        return None
    try:
        return float(str(value).removesuffix("s"))
    except ValueError:
        return None
