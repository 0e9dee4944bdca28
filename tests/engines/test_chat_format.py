"""From OpenAI chat bodies to local-model prompts and grammars, and back (no model needed)."""

from __future__ import annotations

import json

import pytest

from omnigate.engines.chat_format import (
    ANY_OBJECT,
    content_text,
    output_plan,
    template_messages,
    tool_calls_from,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "time"}}


def test_content_parts_become_text() -> None:
    assert (
        content_text([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}])
        == "a\nb"
    )
    assert content_text(None) == ""


def test_roles_tool_calls_and_tool_results_become_plain_turns() -> None:
    body = {
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ]
    }
    messages = template_messages(body)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert json.loads(messages[1]["content"]) == [{"name": "weather", "arguments": "{}"}]
    assert messages[2] == {"role": "user", "content": "Result of tool call c1: sunny"}


def test_tools_are_described_in_the_system_turn_unless_disabled() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    first = template_messages(body)[0]
    assert first["role"] == "system" and '"weather"' in first["content"]
    assert template_messages({**body, "tool_choice": "none"})[0]["role"] == "user"


def test_output_plans() -> None:
    assert output_plan({}).schema is None
    assert output_plan({"response_format": {"type": "json_object"}}).schema == ANY_OBJECT
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert (
        output_plan(
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}
        ).schema
        == schema
    )
    # auto and none leave the model free to answer in text.
    assert output_plan({"tools": [WEATHER], "tool_choice": "auto"}).mode == "text"
    named = output_plan(
        {"tools": [WEATHER, TIME], "tool_choice": {"type": "function", "function": {"name": "weather"}}}
    )
    assert (named.mode, named.tool_name, named.schema) == (
        "tool",
        "weather",
        WEATHER["function"]["parameters"],
    )
    required = output_plan({"tools": [WEATHER, TIME], "tool_choice": "required"})
    assert required.tool_name is None
    assert [o["properties"]["name"]["const"] for o in required.schema["anyOf"]] == ["weather", "time"]
    with pytest.raises(ValueError, match="'nope'"):
        output_plan({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}})


def test_tool_calls_from_grammar_output() -> None:
    named = output_plan(
        {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "weather"}}}
    )
    [call] = tool_calls_from('{"city": "Paris"}', named)
    assert call["function"] == {"name": "weather", "arguments": '{"city": "Paris"}'}
    assert call["id"].startswith("call_") and call["type"] == "function"
    required = output_plan({"tools": [WEATHER, TIME], "tool_choice": "required"})
    [call] = tool_calls_from('{"name": "time", "arguments": {}}', required)
    assert call["function"] == {"name": "time", "arguments": "{}"}
