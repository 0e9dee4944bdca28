"""Anthropic error statuses and bodies → the failures the gateway acts on."""

from __future__ import annotations

import orjson
import pytest

from omnigate.providers.anthropic.errors import failure_for_status, parse_error
from tests.providers.anthropic.fake_anthropic import ERRORS
from tests.providers.anthropic.sdk_check import checked_error


def body(status: int) -> bytes:
    kind, message = ERRORS[status]
    return orjson.dumps(checked_error({"type": "error", "error": {"type": kind, "message": message}}))


@pytest.mark.parametrize(
    ("status", "client_status", "retryable", "message"),
    [
        (400, 400, False, "messages: fake upstream rejected the request"),
        (404, 404, False, "model: fake-model-that-does-not-exist"),
        (413, 413, False, "Request exceeds the maximum allowed number of bytes."),
        (401, 502, True, "Bad Gateway: provider 'claude' refused the gateway's credentials (401)."),
        (403, 502, True, "Bad Gateway: provider 'claude' refused the gateway's credentials (403)."),
        (402, 502, True, "Bad Gateway: provider 'claude' refused the gateway's account (402)."),
        (500, 502, True, "Bad Gateway: provider 'claude' had a server error (500)."),
        (529, 502, True, "Bad Gateway: provider 'claude' is overloaded (529)."),
    ],
)
def test_statuses(status: int, client_status: int, retryable: bool, message: str) -> None:
    failure = failure_for_status("claude", status, body(status), None)
    assert failure.error.status == client_status
    assert failure.retryable is retryable
    # Refused requests keep Anthropic's words; the gateway's own trouble is named, not quoted.
    assert failure.error.message == message


def test_client_errors_keep_anthropic_message_and_type() -> None:
    failure = failure_for_status("claude", 400, body(400), None)
    assert failure.error.message == "messages: fake upstream rejected the request"
    assert failure.error.code == "invalid_request_error"


def test_rate_limit_keeps_retry_after() -> None:
    failure = failure_for_status("claude", 429, body(429), "7")
    assert failure.error.status == 429 and failure.retryable
    assert failure.retry_after == 7.0
    assert failure.error.headers == {"Retry-After": "7"}
    assert failure.error.message == "Too Many Requests: provider 'claude' rate limited the gateway (429)."


def test_bodies_that_are_not_anthropic_errors() -> None:
    assert parse_error(b"<html>Bad Gateway</html>") == ("<html>Bad Gateway</html>", None)
    assert parse_error(b'{"error": {"type": "api_error"}}') == ("api_error", "api_error")
    failure = failure_for_status("claude", 400, b"", None)
    assert failure.error.status == 400 and failure.error.message == "no error message"
