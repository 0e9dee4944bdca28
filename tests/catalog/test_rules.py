"""Unit tests of the compact-schema validator (omnigate.catalog.rules)."""

from __future__ import annotations

from typing import Any

import pytest

from omnigate.catalog.rules import RuleViolation, compile_rules


def _text_part(kind: str = "text") -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": [kind]}, "text": {"type": "string"}},
        "required": ["type", "text"],
    }


def _message(role: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": [role]},
            "content": content or {"type": "string"},
            "name": {"type": "string"},
        },
        "required": ["role", "content"],
        "additionalProperties": False,
    }


IMAGE_PART = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["image_url"]},
        "image_url": {
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "detail": {"type": "string", "enum": ["low", "high", "auto"]},
            },
            "required": ["url"],
        },
    },
    "required": ["type", "image_url"],
}
IMAGE_MSG_PART = {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}
USER_CONTENT = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"anyOf": [_text_part(), IMAGE_PART]}},
    ]
}
CHAT = {
    "type": "object",
    "properties": {
        "messages": {
            "type": "array",
            "items": {
                "oneOf": [
                    _message("user", USER_CONTENT),
                    _message("assistant", {"type": "string", "nullable": True}),
                    _message("tool"),
                ]
            },
            "minItems": 1,
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True},
        "n": {"type": "integer", "minimum": 1, "maximum": 4},
        "stream": {"type": "boolean"},
        "stop": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "maxItems": 4},
            ],
            "nullable": True,
        },
        "reasoning_effort": {"type": "string", "enum": ["low", "high"]},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "user": {"type": "string", "minLength": 1, "maxLength": 5},
        "seed": {"type": "integer", "nullable": True},
    },
    "required": ["model", "messages"],
    "additionalProperties": False,
}


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


def _error(schema: dict[str, Any] | None, body: Any) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        compile_rules(schema)(body)
    return caught.value


def test_valid_chat_body_passes() -> None:
    body = _body(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "x"}, IMAGE_MSG_PART]},
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "content": "42"},
        ],
        temperature=1,
        top_p=0.5,
        n=2,
        stream=True,
        stop=["a", "b"],
        reasoning_effort="low",
        stream_options={"include_usage": True},
    )
    compile_rules(CHAT)(body)


@pytest.mark.parametrize(
    ("extra", "param", "detail"),
    [
        ({"temperature": 1.5}, "temperature", "Number must be less than or equal to 1, received 1.5"),
        ({"temperature": -1}, "temperature", "Number must be greater than or equal to 0, received -1"),
        ({"top_p": 0}, "top_p", "Number must be greater than 0, received 0"),
        ({"temperature": "1"}, "temperature", "Expected number, received string"),
        ({"temperature": True}, "temperature", "Expected number, received boolean"),
        ({"n": 1.5}, "n", "Expected integer, received float"),
        ({"n": 9}, "n", "Number must be less than or equal to 4, received 9"),
        ({"stream": "yes"}, "stream", "Expected boolean, received string"),
        (
            {"reasoning_effort": "x"},
            "reasoning_effort",
            "Invalid enum value. Expected 'low' | 'high', received 'x'",
        ),
        (
            {"stream_options": {"include_usage": 1}},
            "stream_options.include_usage",
            "Expected boolean, received number",
        ),
        ({"user": ""}, "user", "String must contain at least 1 character(s)"),
        ({"user": "toolong"}, "user", "String must contain at most 5 character(s)"),
        ({"stop": ["a"] * 5}, "stop", "Array must contain at most 4 element(s)"),
        ({"stop": 3}, "stop", "Invalid input: expected one of string | array, received number"),
        ({"messages": []}, "messages", "Array must contain at least 1 element(s)"),
    ],
)
def test_violations(extra: dict[str, Any], param: str, detail: str) -> None:
    err = _error(CHAT, _body(**extra))
    assert (err.param, err.detail) == (param, detail)
    assert err.message == f"Body validation error! {param}: {detail}"


def test_integer_accepts_integral_float_and_number_accepts_int() -> None:
    validate = compile_rules(CHAT)
    validate(_body(n=2.0))  # JSON "2.0" is the number 2 for the reference (JavaScript) service
    validate(_body(temperature=0))
    validate(_body(temperature=0.25))


def test_nullable() -> None:
    validate = compile_rules(CHAT)
    validate(_body(stop=None, seed=None))
    # An optional top-level null means "not set", as clients use it...
    validate(_body(temperature=None))
    # ...but a required field or a nested value must still have its type.
    assert _error(CHAT, _body(messages=None)).param == "messages"
    nested = _error(CHAT, _body(stream_options={"include_usage": None}))
    assert nested.detail == "Expected boolean, received null"


def test_unknown_fields_are_ignored_even_with_additional_properties_false() -> None:
    compile_rules(CHAT)(
        _body(
            whatever={"deep": [1, 2]},
            stream_options={"include_usage": True, "extra": 1},
            messages=[{"role": "user", "content": "hi", "cache_control": {"type": "x"}}],
        )
    )


def test_required_fields() -> None:
    body = _body()
    del body["messages"]
    err = _error(CHAT, body)
    assert (err.param, err.detail) == ("messages", "Required")
    err = _error(CHAT, _body(messages=[{"role": "user"}]))
    assert (err.param, err.detail) == ("messages[0].content", "Required")
    err = _error(CHAT, {"messages": []})
    assert (err.param, err.detail) == ("model", "Required")


def test_nested_array_items_report_their_index() -> None:
    err = _error(CHAT, _body(stop=["a", 2]))
    assert err.param == "stop[1]"  # the array branch is the one of the right type
    assert err.detail == "Expected string, received number"
    part = {"type": "image_url", "image_url": {"url": "u", "detail": "max"}}
    err = _error(CHAT, _body(messages=[{"role": "user", "content": ["x", part]}]))
    assert err.param == "messages[0].content[0]"
    assert err.detail == "Invalid input: expected one of object, received string"
    err = _error(CHAT, _body(messages=[{"role": "user", "content": [part]}]))
    assert err.param == "messages[0].content[0].image_url.detail"
    assert err.detail == "Invalid enum value. Expected 'low' | 'high' | 'auto', received 'max'"


def test_discriminated_union_reports_the_matching_branch() -> None:
    err = _error(CHAT, _body(messages=[{"role": "tool", "content": 5}]))
    assert (err.param, err.detail) == ("messages[0].content", "Expected string, received number")
    err = _error(CHAT, _body(messages=[{"role": "user", "content": [{"type": "audio"}]}]))
    assert err.param == "messages[0].content[0].type"
    assert err.detail == "Invalid discriminator value. Expected 'text' | 'image_url', received 'audio'"


def test_role_restriction_message() -> None:
    err = _error(CHAT, _body(messages=[{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]))
    assert err.param == "messages[1].role"
    assert err.message == "Unsupported value: 'messages[1].role' does not support 'system' with this model."


def test_role_restriction_for_a_single_message_shape() -> None:
    schema = {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"role": {"enum": ["user", "assistant"]}, "content": {}},
                },
            }
        },
    }
    err = _error(schema, _body(messages=[{"role": "developer", "content": "x"}]))
    assert (
        err.message == "Unsupported value: 'messages[0].role' does not support 'developer' with this model."
    )


def test_bool_is_not_a_number_nor_an_enum_member() -> None:
    schema = {"type": "object", "properties": {"k": {"enum": [1, 2]}, "b": {"type": "integer"}}}
    validate = compile_rules(schema)
    validate({"model": "m", "k": 1})
    assert _error(schema, {"model": "m", "k": True}).param == "k"
    assert _error(schema, {"model": "m", "b": False}).detail == "Expected integer, received boolean"


def test_all_of_and_const() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"type": "object", "properties": {"b": {"const": "x"}}},
        ]
    }
    validate = compile_rules(schema)
    validate({"model": "m", "a": "s", "b": "x"})
    assert _error(schema, {"model": "m", "b": "x"}).param == "a"
    assert _error(schema, {"model": "m", "a": "s", "b": "y"}).detail == "Invalid literal value, expected 'x'"


def test_exclusive_bounds_in_openapi_31_form() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number", "exclusiveMaximum": 2}}}
    compile_rules(schema)({"model": "m", "x": 1.99})
    assert _error(schema, {"model": "m", "x": 2}).detail == "Number must be less than 2, received 2"


def test_no_rules_only_checks_model() -> None:
    validate = compile_rules(None)
    validate({"model": "x", "anything": {"goes": True}})
    assert _error(None, {"messages": []}).param == "model"
    assert _error(None, {"model": 3}).detail == "Expected string, received number"
    assert _error(None, ["not", "an", "object"]).param == "body"


def test_model_must_be_a_string_with_rules_too() -> None:
    assert _error(CHAT, _body(model=["m"])).detail == "Expected string, received array"


def test_compiled_once_per_schema() -> None:
    assert compile_rules(CHAT) is compile_rules(CHAT)
