"""Golden translations of Anthropic messages into OpenAI chat completions."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from omnigate.providers.anthropic.response import to_chat_completion
from tests.providers.anthropic.sdk_check import checked_message

USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 6,
    "service_tier": "standard",
}


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    # Inputs are checked against the SDK's Message too, so they are what Anthropic really sends.
    return checked_message(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-haiku-20240307",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**USAGE, **usage},
        }
    )


def translate(msg: dict[str, Any]) -> dict[str, Any]:
    out = to_chat_completion(msg, created=1_700_000_000)
    ChatCompletion.model_validate(out)  # the openai SDK reads it
    return out


def test_text() -> None:
    assert translate(message([{"type": "text", "text": "Hello!"}])) == {
        "id": "msg_01",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "claude-3-haiku-20240307",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 6,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_thinking_becomes_reasoning_content() -> None:
    out = translate(
        message(
            [
                {"type": "thinking", "thinking": "The user greets me.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "b3BhcXVl"},
                {"type": "text", "text": "Hello!"},
            ]
        )
    )
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello!",
        "refusal": None,
        "reasoning_content": "The user greets me.",
    }


def test_tool_use_becomes_tool_calls() -> None:
    out = translate(
        message(
            [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ],
            stop_reason="tool_use",
        )
    )
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Checking both.",
        "refusal": None,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ],
    }


def test_only_tool_use_has_null_content() -> None:
    block = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    assert translate(message([block], stop_reason="tool_use"))["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    out = translate(message([{"type": "text", "text": "x"}], stop_reason=stop_reason))
    assert out["choices"][0]["finish_reason"] == finish_reason


def test_cache_tokens_count_as_prompt_tokens() -> None:
    out = translate(
        message([{"type": "text", "text": "x"}], cache_read_input_tokens=100, cache_creation_input_tokens=50)
    )
    assert out["usage"] == {
        "prompt_tokens": 162,
        "completion_tokens": 6,
        "total_tokens": 168,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
