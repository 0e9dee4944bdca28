"""Golden tests: OpenAI chat bodies → Gemini `generateContent` bodies (each checked by the SDK types)."""

from __future__ import annotations

import json

import pytest

from omnigate.providers.gemini.request import TranslationError, to_gemini, upstream_model
from tests.providers.gemini.sdk_checks import check_request

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "days": {"type": "integer", "format": "int32", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string", "format": "hostname"}},
            },
            "required": ["city", "ghost"],
            "additionalProperties": False,
        },
    },
}


def translate(body: dict) -> dict:
    out = to_gemini(body)
    check_request(out)  # every golden body must also be one the API (and the SDK) accepts
    return out


def test_plain_text() -> None:
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hello"}]}
    assert translate(body) == {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("google/gemini-2.5-flash", "gemini-2.5-flash"), ("models/gemini-2.0-flash", "gemini-2.0-flash")],
)
def test_upstream_model_strips_prefixes(given: str, expected: str) -> None:
    assert upstream_model({"model": given}) == expected


def test_system_and_developer_become_system_instruction() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "salut"},
            {"role": "user", "content": [{"type": "text", "text": "again"}, {"type": "text", "text": "!"}]},
        ]
    }
    assert translate(body) == {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "salut"}]},
            {"role": "user", "parts": [{"text": "again"}, {"text": "!"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use French."}]},
    }


def test_image_inputs_by_url_and_base64() -> None:
    content = [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png?size=2", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo"}},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
    ]
    out = translate({"messages": [{"role": "user", "content": content}]})
    assert out["contents"][0]["parts"] == [
        {"text": "compare"},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}},
        {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
    ]


def test_non_base64_data_url_is_refused() -> None:
    content = [{"type": "image_url", "image_url": {"url": "data:text/plain,hello"}}]
    with pytest.raises(TranslationError, match="base64"):
        to_gemini({"messages": [{"role": "user", "content": content}]})


def test_tools_and_tool_choice() -> None:
    body = {
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "now", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    out = translate(body)
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "city": {"type": "STRING", "description": "City name"},
                            "unit": {"type": "STRING", "nullable": True, "enum": ["c", "f"]},
                            "days": {"type": "INTEGER", "format": "int32", "minimum": 1},
                            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                        },
                        "required": ["city"],
                    },
                },
                {"name": "now"},  # no arguments: Gemini refuses an OBJECT without properties
            ]
        }
    ]
    assert out["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")])
def test_tool_choice_modes(choice: str, mode: str) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL], "tool_choice": choice}
    assert translate(body)["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_schema_refs_and_any_of_are_inlined() -> None:
    params = {
        "type": "object",
        "$defs": {"Place": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "properties": {
            "place": {"$ref": "#/$defs/Place", "description": "where"},
            "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "level": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        },
    }
    tool = {"type": "function", "function": {"name": "book", "parameters": params}}
    out = translate({"messages": [{"role": "user", "content": "x"}], "tools": [tool]})
    assert out["tools"][0]["functionDeclarations"][0]["parameters"]["properties"] == {
        "place": {"type": "OBJECT", "description": "where", "properties": {"name": {"type": "STRING"}}},
        "when": {"type": "STRING", "nullable": True},
        "level": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
    }


def test_recursive_schema_is_refused() -> None:
    params = {
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    tool = {"type": "function", "function": {"name": "walk", "parameters": params}}
    with pytest.raises(TranslationError, match="recursive"):
        to_gemini({"messages": [{"role": "user", "content": "x"}], "tools": [tool]})


def test_tool_calls_and_results_round_trip() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        "extra_content": {"google": {"thought_signature": "c2lnOmdldF93ZWF0aGVy"}},
                    },
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
            {"role": "user", "content": "thanks"},
        ]
    }
    assert translate(body)["contents"] == [
        {"role": "user", "parts": [{"text": "weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2lnOmdldF93ZWF0aGVy",
                },
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"output": "noon"}}},
                {"text": "thanks"},
            ],
        },
    ]


def test_tool_result_for_unknown_call_is_refused() -> None:
    body = {"messages": [{"role": "tool", "tool_call_id": "call_x", "content": "1"}]}
    with pytest.raises(TranslationError, match="tool_call_id"):
        to_gemini(body)


def test_generation_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "stop": "END",
        "n": 2,
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": schema, "strict": True},
        },
        "reasoning_effort": "medium",
    }
    assert translate(body)["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 40,
        "seed": 7,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "candidateCount": 2,
        "maxOutputTokens": 200,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
        "thinkingConfig": {"thinkingBudget": 8192, "includeThoughts": True},
    }


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort_budgets(effort: str, budget: int) -> None:
    out = translate({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort})
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": budget, "includeThoughts": True}


def test_json_object_mode() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}
    assert translate(body)["generationConfig"] == {"responseMimeType": "application/json"}


def test_bad_tool_arguments_are_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": json.dumps([1])}}
    with pytest.raises(TranslationError, match="arguments"):
        to_gemini({"messages": [{"role": "assistant", "tool_calls": [call]}]})
