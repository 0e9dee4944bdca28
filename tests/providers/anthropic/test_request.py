"""Golden translations of OpenAI chat bodies into Anthropic Messages bodies."""

from __future__ import annotations

from typing import Any

import pytest

from omnigate.providers.anthropic.request import TranslationError, to_messages_body
from tests.providers.anthropic.sdk_check import check_request

MODEL = "claude-3-haiku-20240307"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def translate(**body: Any) -> dict[str, Any]:
    """The translation, checked against the SDK's request types like the fake upstream does."""
    out = to_messages_body({"model": MODEL, **body})
    check_request(out)
    return out


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def test_plain_text() -> None:
    assert translate(messages=[user("hi")]) == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_system_and_developer_messages_become_one_system_prompt() -> None:
    out = translate(
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            user("hi"),
            {"role": "assistant", "content": "salut"},
            {"role": "system", "content": "Now in English."},
            user("again"),
        ]
    )
    assert out["system"] == "Be terse.\n\nAnswer in French.\n\nNow in English."
    assert out["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "salut"},
        {"role": "user", "content": "again"},
    ]


def test_image_url_and_base64_images() -> None:
    out = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "compare"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "text", "text": ""},
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


def test_pdf_file_becomes_a_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
    }
    out = translate(messages=[{"role": "user", "content": [part]}])
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        }
    ]


@pytest.mark.parametrize(
    ("part", "words"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}, "not 'image/bmp'"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "base64 data: URL"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "'input_audio'"),
        ({"type": "file", "file": {"file_id": "file-123"}}, "inline as file_data"),
    ],
)
def test_untranslatable_parts_are_refused(part: dict[str, Any], words: str) -> None:
    with pytest.raises(TranslationError, match=words) as caught:
        to_messages_body({"model": MODEL, "messages": [{"role": "user", "content": [part]}]})
    assert caught.value.param == "messages"


def test_tools_and_tool_results() -> None:
    calls = [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    out = translate(
        messages=[
            user("weather and time in Paris?"),
            {"role": "assistant", "content": "Let me check.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "noon"}]},
            user("thanks, and tomorrow?"),
        ],
        tools=[TOOL, {"type": "function", "function": {"name": "get_time"}}],
    )
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": TOOL["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out  # Anthropic's default is auto, as OpenAI's is
    assert out["messages"] == [
        {"role": "user", "content": "weather and time in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ],
        },
        {
            # Both results, then the next user message, in the one user turn that may follow.
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "noon"}],
                },
                {"type": "text", "text": "thanks, and tomorrow?"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice(choice: object, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"messages": [user("hi")], "tools": [TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert translate(**body).get("tool_choice") == expected


def test_tool_choice_without_tools_is_dropped() -> None:
    assert "tool_choice" not in translate(messages=[user("hi")], tool_choice="auto")


def test_invalid_tool_call_arguments_are_refused() -> None:
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    with pytest.raises(TranslationError, match="JSON"):
        to_messages_body(
            {
                "model": MODEL,
                "messages": [user("hi"), {"role": "assistant", "content": None, "tool_calls": [call]}],
            }
        )


def test_sampling_and_limits() -> None:
    out = translate(
        messages=[user("hi")],
        max_tokens=100.0,
        max_completion_tokens=200,
        temperature=1.7,
        top_p=0.9,
        top_k=40,
        stop="END",
        user="user-42",
        seed=7,
        frequency_penalty=0.5,
        logprobs=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert out == {
        "model": MODEL,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1.0,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }
    assert translate(messages=[user("hi")], max_tokens=100.0, stop=["a", "b"])["max_tokens"] == 100
    assert translate(messages=[user("hi")], stop=["a", "b"])["stop_sequences"] == ["a", "b"]


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget", "sent_max"),
    [
        ("low", None, 1024, 4096),
        ("medium", 100, 4096, 4196),
        ("high", None, 16384, 20480),
        ("high", 32000, 16384, 32000),
    ],
)
def test_reasoning_effort_enables_thinking(
    effort: str, max_tokens: int | None, budget: int, sent_max: int
) -> None:
    body: dict[str, Any] = {"messages": [user("hi")], "reasoning_effort": effort}
    if max_tokens:
        body["max_tokens"] = max_tokens
    out = translate(**body)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == sent_max


def test_response_format_steers_with_a_system_instruction() -> None:
    out = translate(
        messages=[{"role": "system", "content": "Be terse."}, user("hi")],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA}},
    )
    assert out["system"].startswith("Be terse.\n\nRespond with a single valid JSON value only")
    assert '{"type":"object","properties":{"city":{"type":"string"}}}' in out["system"]
    assert (
        "JSON object" in translate(messages=[user("hi")], response_format={"type": "json_object"})["system"]
    )
    assert "system" not in translate(messages=[user("hi")], response_format={"type": "text"})


def test_several_choices_are_refused() -> None:
    with pytest.raises(TranslationError, match="one choice") as caught:
        to_messages_body({"model": MODEL, "messages": [user("hi")], "n": 2})
    assert caught.value.param == "n"


def test_legacy_function_messages_are_refused() -> None:
    legacy = {"role": "function", "name": "get_weather", "content": "sunny"}
    with pytest.raises(TranslationError, match="role 'function'"):
        to_messages_body({"model": MODEL, "messages": [user("hi"), legacy]})
