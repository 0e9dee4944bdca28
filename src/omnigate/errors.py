"""The error types of the gateway and the one place that renders the error body.

Clients of the AI/ML API read `{message, path, requestId, statusCode, timestamp}`; OpenAI SDKs read
`{"error": {message, type, code, param}}`. Every error the gateway sends carries both, so both kinds
of client understand it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

# Canonical messages of the service (notes/other-endpoints.md §1.3). The first sentence of each is the
# service's own wording; what follows tells a self-hosting user how to fix it here.
INVALID_KEY = (
    "This request requires a valid API key. "
    "Create one with `omnigate keys create` and send it as `Authorization: Bearer <key>`."
)
OUT_OF_CREDITS = (
    "You've run out of credits. Please top up your balance or update your payment method to continue."
)
BODY_VALIDATION = "Body validation error!"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "insufficient_quota",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error that becomes an HTTP response with the dual error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "api_error" if self.status >= 500 else "invalid_request_error")


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code=code, param=param)


def invalid_key() -> ApiError:
    return ApiError(401, INVALID_KEY, code="invalid_api_key")


def not_found(message: str, *, code: str = "not_found", param: str | None = None) -> ApiError:
    return ApiError(404, message, code=code, param=param)


def error_payload(err: ApiError, *, path: str, request_id: str) -> dict:
    now = datetime.now(UTC)
    return {
        "error": {
            "message": err.message,
            "type": err.type,
            "code": err.code,
            "param": err.param,
        },
        "message": err.message,
        "statusCode": err.status,
        "path": path,
        "requestId": request_id,
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def render_error(err: ApiError, *, path: str, request_id: str) -> bytes:
    return orjson.dumps(error_payload(err, path=path, request_id=request_id))
