"""Golden tests: OpenAI chat bodies → Cohere v2 chat bodies, each checked against the SDK types."""

from __future__ import annotations

from typing import Any

import pytest

from omnigate.errors import ApiError
from omnigate.providers.cohere.request import to_cohere
from tests.providers.cohere.fidelity import check_request

MODEL = "command-a-03-2025"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CLOCK = {"type": "function", "function": {"name": "get_time"}}


def translate(**body: Any) -> dict:
    out = to_cohere({"model": MODEL, **body})
    check_request(out)
    return out


def test_plain_text() -> None:
    assert translate(messages=[{"role": "user", "content": "hello"}]) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello"}],
    }


def test_system_and_developer_become_system_and_names_are_dropped() -> None:
    out = translate(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "no emoji"}]},
            {"role": "user", "content": "hi", "name": "bob"},
        ]
    )
    assert out["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "system", "content": [{"type": "text", "text": "no emoji"}]},
        {"role": "user", "content": "hi"},
    ]


def test_image_inputs_by_url_and_base64() -> None:
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    out = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "compare"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/a.jpg", "detail": "high"},
                    },
                    {"type": "image_url", "image_url": {"url": data_uri}},
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": data_uri}},
    ]


def test_sampling_parameters_take_cohere_names() -> None:
    out = translate(
        messages=[{"role": "user", "content": "x"}],
        max_completion_tokens=64,
        temperature=0.3,
        top_p=0.9,
        top_k=40.0,  # an integral float passes the catalogue's rules; Cohere wants an int
        stop="END",
        seed=7,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        user="someone",
        stream=True,
        stream_options={"include_usage": True},
    )
    assert out == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 64,
        "temperature": 0.3,
        "p": 0.9,
        "k": 40,
        "stop_sequences": ["END"],
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stream": True,
    }


def test_tools_and_choices() -> None:
    messages = [{"role": "user", "content": "weather?"}]
    auto = translate(messages=messages, tools=[WEATHER, CLOCK], tool_choice="auto")
    assert auto["tools"] == [
        WEATHER,
        # Cohere requires a parameters schema; an OpenAI function may leave it out.
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert "tool_choice" not in auto
    assert translate(messages=messages, tools=[WEATHER], tool_choice="required")["tool_choice"] == "REQUIRED"
    assert translate(messages=messages, tools=[WEATHER], tool_choice="none")["tool_choice"] == "NONE"
    named = translate(
        messages=messages,
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert named["tool_choice"] == "REQUIRED"
    assert [t["function"]["name"] for t in named["tools"]] == ["get_time"]
    strict = {"type": "function", "function": {**WEATHER["function"], "strict": True}}  # type: ignore[dict-item]
    assert translate(messages=messages, tools=[strict])["strict_tools"] is True


def test_tool_calls_and_results() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": "I will look it up.",
                "tool_calls": [
                    {
                        "id": "get_weather_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "get_weather_abc", "content": '{"temp": 21}'},
            {
                "role": "tool",
                "tool_call_id": "get_weather_abc",
                "content": [{"type": "text", "text": "sunny"}],
            },
            {"role": "assistant", "content": "It is 21 degrees.", "reasoning_content": "read the tool"},
        ],
        tools=[WEATHER],
    )
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "get_weather_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
            "tool_plan": "I will look it up.",
        },
        {"role": "tool", "tool_call_id": "get_weather_abc", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "get_weather_abc", "content": [{"type": "text", "text": "sunny"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "read the tool"},
                {"type": "text", "text": "It is 21 degrees."},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "text"}, None),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": True},
            },
            {"type": "json_object", "json_schema": {"type": "object"}},
        ),
    ],
)
def test_response_format(response_format: dict, expected: dict | None) -> None:
    out = translate(messages=[{"role": "user", "content": "json please"}], response_format=response_format)
    assert out.get("response_format") == expected


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("low", {"type": "enabled", "token_budget": 1024}),
        ("medium", {"type": "enabled", "token_budget": 4096}),
        ("high", {"type": "enabled", "token_budget": 16384}),
        ("none", {"type": "disabled"}),
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget(effort: str, thinking: dict) -> None:
    out = translate(messages=[{"role": "user", "content": "think"}], reasoning_effort=effort)
    assert out["thinking"] == thinking


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages",
        ),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search"}]}, "tools"),
        (
            {
                "messages": [{"role": "user", "content": "x"}],
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "missing"}},
            },
            "tool_choice",
        ),
        ({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 1.5}, "seed"),
    ],
)
def test_untranslatable_requests_are_refused(body: dict, param: str) -> None:
    with pytest.raises(ApiError) as caught:
        to_cohere({"model": MODEL, **body})
    assert caught.value.status == 400
    assert caught.value.param == param
