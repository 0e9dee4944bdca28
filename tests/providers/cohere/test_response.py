"""Golden tests: Cohere v2 chat responses and error bodies → what the gateway's clients see."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion

from omnigate.providers.cohere.errors import failure_for_status
from omnigate.providers.cohere.response import InvalidResponse, to_openai, to_usage
from tests.providers.cohere.fidelity import check_error_body, check_response

USAGE = {
    "billed_units": {"input_tokens": 5, "output_tokens": 3},
    "tokens": {"input_tokens": 71, "output_tokens": 3},
}


def translate(response: dict[str, Any]) -> dict[str, Any]:
    check_response(response)  # the input is what Cohere really sends
    out = to_openai(response, model="command-a-03-2025", created=1_700_000_000)
    ChatCompletion.model_validate(out)
    return out


def test_text_answer() -> None:
    out = translate(
        {
            "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
            "usage": USAGE,
        }
    )
    assert out == {
        "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "command-a-03-2025",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        # tokens (what the model saw, preamble included) before billed_units
        "usage": {"prompt_tokens": 71, "completion_tokens": 3, "total_tokens": 74},
    }


def test_thinking_becomes_reasoning_content() -> None:
    out = translate(
        {
            "id": "r1",
            "finish_reason": "MAX_TOKENS",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Let me think. "},
                    {"type": "thinking", "thinking": "Done."},
                    {"type": "text", "text": "42"},
                ],
            },
        }
    )
    choice = out["choices"][0]
    assert choice["message"]["content"] == "42"
    assert choice["message"]["reasoning_content"] == "Let me think. Done."
    assert choice["finish_reason"] == "length"
    assert "usage" not in out


def test_tool_calls_keep_their_arguments_and_the_plan_becomes_content() -> None:
    arguments = '{"city": "Paris",  "units":"C"}'
    out = translate(
        {
            "id": "t1",
            "finish_reason": "TOOL_CALL",
            "message": {
                "role": "assistant",
                "tool_plan": "I will check the weather.",
                "tool_calls": [
                    {
                        "id": "get_weather_1byjy32y4hvq",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": arguments},
                    }
                ],
            },
            "usage": USAGE,
        }
    )
    message = out["choices"][0]["message"]
    assert message["content"] == "I will check the weather."
    assert message["tool_calls"] == [
        {
            "id": "get_weather_1byjy32y4hvq",
            "type": "function",
            "function": {"name": "get_weather", "arguments": arguments},
        }
    ]
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_calls_without_a_plan_have_null_content() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    out = translate(
        {"id": "t2", "finish_reason": "TOOL_CALL", "message": {"role": "assistant", "tool_calls": [call]}}
    )
    assert out["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize("reason", ["ERROR", "TIMEOUT"])
def test_error_finishes_report_stop_and_warn(reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omnigate.providers.cohere.response"):
        out = translate(
            {
                "id": "e1",
                "finish_reason": reason,
                "message": {"role": "assistant", "content": [{"type": "text", "text": "partial"}]},
            }
        )
    assert out["choices"][0]["finish_reason"] == "stop"
    assert reason in caplog.text and "e1" in caplog.text


def test_usage_falls_back_to_billed_units_and_reads_cached_tokens() -> None:
    assert to_usage({"billed_units": {"input_tokens": 5.0, "output_tokens": 3.0}, "cached_tokens": 2.0}) == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "prompt_tokens_details": {"cached_tokens": 2},
    }
    assert to_usage({"billed_units": {"search_units": 1}}) is None
    assert to_usage(None) is None


@pytest.mark.parametrize("body", [{"id": "x"}, {"id": "x", "message": {"content": 5}}])
def test_a_body_that_is_no_chat_response_is_invalid(body: dict) -> None:
    with pytest.raises(InvalidResponse):
        to_openai(body, model="m", created=0)


@pytest.mark.parametrize(
    ("status", "client_status", "retryable", "code"),
    [
        (400, 400, False, None),
        (404, 404, False, None),
        (422, 422, False, None),
        (401, 502, True, "upstream_auth"),
        (402, 502, True, "upstream_billing"),
        (429, 429, True, "rate_limited"),
        (499, 502, True, "upstream_error"),
        (500, 502, True, "upstream_error"),
        (503, 502, True, "upstream_error"),
    ],
)
def test_error_statuses(status: int, client_status: int, retryable: bool, code: str | None) -> None:
    body = check_error_body({"id": "9d3bd9b3", "message": f"cohere says {status}"})
    failure = failure_for_status("co", status, orjson.dumps(body), "3" if status == 429 else None)
    assert failure.error.status == client_status
    assert failure.retryable is retryable
    assert failure.error.code == code
    if status in (400, 404, 422):
        # A refused request reaches the client in Cohere's own words, nothing added.
        assert failure.error.message == f"cohere says {status}"
    else:
        # The gateway's own trouble is named with its status; Cohere's words are for the log.
        assert f"({status})." in failure.error.message and "cohere says" not in failure.error.message
    if status == 429:
        assert failure.retry_after == 3.0
        assert failure.error.headers == {"Retry-After": "3"}


def test_error_body_without_an_id_or_json() -> None:
    assert failure_for_status("co", 400, b'{"message": "invalid request: x"}', None).error.message == (
        "invalid request: x"
    )
    assert failure_for_status("co", 503, b"upstream down", None).error.message == (
        "Bad Gateway: provider 'co' is unavailable (503)."
    )
