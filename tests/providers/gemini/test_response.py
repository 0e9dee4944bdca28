"""Golden tests: Gemini `GenerateContentResponse` → OpenAI `chat.completion`; Google errors."""

from __future__ import annotations

import orjson
import pytest
from openai.types.chat import ChatCompletion

from omnigate.providers.gemini.errors import failure_for_status, parse_error
from omnigate.providers.gemini.response import to_openai
from tests.providers.gemini.sdk_checks import check_response

USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 4,
    "thoughtsTokenCount": 6,
    "cachedContentTokenCount": 3,
    "totalTokenCount": 20,
}


def translate(response: dict) -> dict:
    check_response(response)  # the golden inputs are real Gemini payloads, per the SDK
    out = to_openai(response, model="gemini-2.5-flash")
    ChatCompletion.model_validate(out)  # and the output is what OpenAI clients read
    return out


def answer(parts: list[dict], finish: str = "STOP", **extra: object) -> dict:
    return {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": 0}],
        "usageMetadata": USAGE,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp123",
        **extra,
    }


def test_plain_text_with_usage() -> None:
    out = translate(answer([{"text": "Hello "}, {"text": "world"}]))
    assert out["id"] == "chatcmpl-resp123"
    assert out["object"] == "chat.completion"
    assert out["model"] == "gemini-2.5-flash"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello world", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 10,
        "total_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 6},
    }


def test_thoughts_become_reasoning_content() -> None:
    out = translate(answer([{"text": "Let me think.", "thought": True}, {"text": "42"}]))
    message = out["choices"][0]["message"]
    assert message["content"] == "42"
    assert message["reasoning_content"] == "Let me think."


def test_function_calls_become_tool_calls() -> None:
    parts = [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_time", "args": {}}},
    ]
    choice = translate(answer(parts))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_") and first["id"] != second["id"]
    assert first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert first["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    assert second["function"] == {"name": "get_time", "arguments": "{}"}
    assert "extra_content" not in second


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(finish: str, expected: str) -> None:
    assert translate(answer([{"text": "x"}], finish))["choices"][0]["finish_reason"] == expected


def test_blocked_prompt_is_content_filter_with_empty_content() -> None:
    response = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r",
    }
    out = translate(response)
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] == ""
    assert out["usage"]["prompt_tokens"] == 5 and out["usage"]["completion_tokens"] == 0


def test_several_candidates() -> None:
    response = answer([{"text": "a"}])
    response["candidates"].append({"content": {"parts": [{"text": "b"}], "role": "model"}, "index": 1})
    out = translate(response)
    assert [c["message"]["content"] for c in out["choices"]] == ["a", "b"]
    assert [c["index"] for c in out["choices"]] == [0, 1]


# ------------------------------------------------------------------------------ errors


def google_error(code: int, status: str, message: str, details: list | None = None) -> bytes:
    body: dict = {"error": {"code": code, "message": message, "status": status}}
    if details:
        body["error"]["details"] = details
    return orjson.dumps(body)


def test_400_keeps_googles_message_and_field() -> None:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "generation_config.temperature", "description": "too hot"}],
        }
    ]
    raw = google_error(400, "INVALID_ARGUMENT", "temperature must be at most 2", details)
    failure = failure_for_status("google", 400, raw, None)
    assert not failure.retryable
    assert failure.error.status == 400
    assert failure.error.message == "temperature must be at most 2"
    assert failure.error.code == "invalid_argument"
    assert failure.error.param == "generation_config.temperature"


def test_bad_api_key_is_a_retryable_gateway_problem() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    raw = google_error(400, "INVALID_ARGUMENT", "API key not valid.", [info])
    failure = failure_for_status("google", 400, raw, None)
    assert failure.retryable and failure.error.status == 502 and failure.error.code == "upstream_auth"


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retryable_502s(status: int) -> None:
    failure = failure_for_status("google", status, google_error(status, "UNAVAILABLE", "overloaded"), None)
    assert failure.retryable
    assert failure.error.status == 502 and f"({status})." in failure.error.message
    assert "overloaded" not in failure.error.message


def test_429_reads_retry_info() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    raw = google_error(429, "RESOURCE_EXHAUSTED", "quota", [retry])
    failure = failure_for_status("google", 429, raw, None)
    assert failure.retryable and failure.retry_after == 37.0
    assert failure.error.status == 429 and failure.error.headers == {"Retry-After": "37"}
    assert failure.error.code == "resource_exhausted"


def test_error_body_that_is_not_json() -> None:
    assert parse_error(b"<html>Bad gateway</html>").message == "<html>Bad gateway</html>"
    assert parse_error([{"error": {"message": "in an array"}}]).message == "in an array"
