"""Deepgram's error bodies and statuses → what the gateway's clients see."""

from __future__ import annotations

import orjson
import pytest

from omnigate.providers.deepgram.errors import deepgram_message, failure_for_status

LEGACY = orjson.dumps({"err_code": "Bad Request", "err_msg": "Bad Request: no audio", "request_id": "r1"})
MODERN = orjson.dumps(
    {"category": "INVALID_JSON", "message": "Invalid JSON submitted.", "details": "missing field `url`"}
)


def test_both_dialects_and_plain_text_give_a_message() -> None:
    # "Bad Request" says nothing the status does not; a category is a code worth passing on.
    assert deepgram_message(LEGACY) == ("Bad Request: no audio", None)
    assert deepgram_message(MODERN) == ("Invalid JSON submitted. missing field `url`", "INVALID_JSON")
    assert deepgram_message(b"upstream connect error") == ("upstream connect error", None)
    assert deepgram_message(b"") == ("no error message", None)


def test_a_refused_request_keeps_deepgrams_words_scrubbed() -> None:
    raw = orjson.dumps(
        {"category": "INVALID_QUERY_PARAMETER", "message": "No voice at https://int.dg.example/v"}
    )
    failure = failure_for_status("dg", 400, raw, None)
    assert not failure.retryable
    assert (failure.error.status, failure.error.code) == (400, "INVALID_QUERY_PARAMETER")
    assert failure.error.message == "No voice at [url]"


@pytest.mark.parametrize(
    ("status", "code"), [(401, "upstream_auth"), (403, "upstream_auth"), (402, "upstream_billing")]
)
def test_the_gateways_standing_with_deepgram_is_a_502(status: int, code: str) -> None:
    failure = failure_for_status(
        "dg", status, orjson.dumps({"err_msg": "Invalid credentials for key 1f2e3d"}), None
    )
    assert failure.retryable
    assert (failure.error.status, failure.error.code) == (502, code)
    assert "1f2e3d" not in failure.error.message and "Invalid credentials" not in failure.error.message


def test_a_rate_limit_passes_retry_after_on() -> None:
    failure = failure_for_status(
        "dg", 429, orjson.dumps({"err_msg": "Too many requests for project p-77"}), "4"
    )
    assert (failure.error.status, failure.error.code, failure.retry_after) == (429, "rate_limited", 4.0)
    assert failure.error.headers == {"Retry-After": "4"}
    assert "p-77" not in failure.error.message


@pytest.mark.parametrize("status", [500, 503, 504, 408])
def test_server_trouble_is_a_retryable_502_without_deepgrams_words(status: int) -> None:
    failure = failure_for_status("dg", status, orjson.dumps({"err_msg": "engine pod dg-asr-7 crashed"}), None)
    assert failure.retryable
    assert (failure.error.status, failure.error.code) == (502, "upstream_error")
    assert "dg-asr-7" not in failure.error.message
