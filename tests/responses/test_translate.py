"""Responses ⇄ chat translation, each object checked against the openai SDK's own types."""

from __future__ import annotations

import pytest
from openai.types.responses import Response, ResponseItem
from pydantic import TypeAdapter

from omnigate.responses.items import TranslationError, normalise_input, to_messages
from omnigate.responses.translate import to_chat_body, to_response

TOOL = {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}


def chat(request: dict, history: list | None = None) -> dict:
    return to_chat_body(request, history or [], normalise_input(request["input"]))


def completion(message: dict, finish_reason: str = "stop") -> dict:
    return {
        "id": "chatcmpl-1",
        "created": 1_700_000_000,
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
    }


def test_string_input_with_instructions() -> None:
    body = chat({"model": "gpt-4o", "input": "hello", "instructions": "Be brief.", "max_output_tokens": 9})
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert body["max_tokens"] == 9 and body["model"] == "gpt-4o"


def test_message_items_with_parts_and_roles() -> None:
    body = chat(
        {
            "model": "m",
            "input": [
                {"role": "developer", "content": "rules"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "look"},
                        {"type": "input_image", "image_url": "https://x/i.png", "detail": "low"},
                    ],
                },
                {"role": "assistant", "content": [{"type": "output_text", "text": "a cat"}]},
            ],
        }
    )
    assert body["messages"] == [
        {"role": "system", "content": "rules"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "low"}},
            ],
        },
        {"role": "assistant", "content": "a cat"},
    ]


def test_function_call_and_output_items() -> None:
    items = normalise_input(
        [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": "rainy"},
        ]
    )
    messages = to_messages(items)
    assert messages[1]["role"] == "assistant" and messages[1]["content"] is None
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rainy"},
    ]
    # Stored items have ids and read as the SDK's input items.
    adapter = TypeAdapter(ResponseItem)
    for item in items:
        adapter.validate_python(item)


def test_tools_tool_choice_text_format_and_reasoning() -> None:
    body = chat(
        {
            "model": "m",
            "input": "x",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {
                "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}
            },
            "reasoning": {"effort": "low"},
        }
    )
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }
    assert body["reasoning_effort"] == "low"
    assert chat({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}})[
        "response_format"
    ] == {"type": "json_object"}


def test_history_comes_before_the_new_input() -> None:
    history = [
        *normalise_input("first"),
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "echo", "annotations": []}],
        },
    ]
    body = chat({"model": "m", "input": "second", "instructions": "sys"}, history)
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize(
    "request_body",
    [
        {"input": []},
        {"input": 3},
        {"input": [{"type": "item_reference", "id": "x"}]},
        {"input": "x", "tools": [{"type": "web_search"}]},
        {"input": "x", "tool_choice": {"type": "file_search"}},
        {"input": [{"role": "robot", "content": "x"}]},
    ],
)
def test_untranslatable_requests_raise(request_body: dict) -> None:
    with pytest.raises(TranslationError):
        chat({"model": "m", **request_body})


def test_text_response_validates() -> None:
    response = to_response(
        completion({"content": "hi there"}), {"input": "x"}, response_id="resp_1", model="gpt-4o"
    )
    parsed = Response.model_validate(response)
    assert parsed.status == "completed" and parsed.output_text == "hi there"
    assert response["output_text"] == "hi there"
    assert parsed.output[0].type == "message" and parsed.output[0].id.startswith("msg_")
    assert parsed.usage is not None
    assert (
        parsed.usage.input_tokens == 5 and parsed.usage.output_tokens == 3 and parsed.usage.total_tokens == 8
    )
    assert parsed.usage.input_tokens_details.cached_tokens == 2
    assert parsed.usage.output_tokens_details.reasoning_tokens == 1
    assert parsed.tool_choice == "auto" and parsed.tools == [] and parsed.error is None


def test_tool_call_response_validates() -> None:
    message = {
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    response = to_response(
        completion(message, "tool_calls"), {"input": "x", "tools": [TOOL]}, response_id="resp_2", model="m"
    )
    parsed = Response.model_validate(response)
    assert len(parsed.output) == 1
    call = parsed.output[0]
    assert call.type == "function_call" and call.call_id == "call_1" and call.id.startswith("fc_")
    assert call.arguments == '{"city":"Paris"}' and parsed.output_text == ""
    assert parsed.tools[0].name == "get_weather"


def test_length_makes_an_incomplete_response() -> None:
    response = to_response(
        completion({"content": "cut"}, "length"),
        {"input": "x", "max_output_tokens": 3},
        response_id="r",
        model="m",
    )
    parsed = Response.model_validate(response)
    assert parsed.status == "incomplete"
    assert parsed.incomplete_details is not None and parsed.incomplete_details.reason == "max_output_tokens"
    assert parsed.max_output_tokens == 3
