"""Client JSON schemas as llama.cpp grammars: what is refused, with which reason, before llama.cpp."""

from __future__ import annotations

import pytest

from omnigate.engines.chat_format import output_plan
from omnigate.engines.grammar import MAX_DEPTH, MAX_REPEAT, GrammarError, schema_grammar

pytest.importorskip("llama_cpp")  # the converter


def _nested(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels - 1):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_a_usable_schema_becomes_a_grammar() -> None:
    grammar = schema_grammar(
        {"type": "object", "properties": {"city": {"type": "string", "maxLength": MAX_REPEAT}}}
    )
    assert "root ::=" in grammar and "city-kv ::=" in grammar


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ([{"type": "string"}], "Expected a JSON schema object"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "Error resolving ref"),
        ({"type": "object", "properties": 5}, "cannot be turned into a grammar"),
        ({"type": "array", "maxItems": MAX_REPEAT + 1}, f"maxItems {MAX_REPEAT + 1} is more than"),
        ({"type": "string", "minLength": 1e300}, "minLength 1e+300 is more than"),
        ({"type": "string", "pattern": "^((a{100}){100}){2}$"}, "repeats up to 20000 times"),
        ({"enum": ["\u0000"]}, "U+0000"),
        ({"type": "string", "pattern": "^\\x00$"}, "U+0000"),
        (_nested(MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_refused_schemas_say_why(schema: object, reason: str) -> None:
    with pytest.raises(GrammarError) as caught:
        schema_grammar(schema)
    assert reason in str(caught.value)


def test_bounds_are_read_only_where_they_are_bounds() -> None:
    # A property may be named maxLength, and a backslash followed by "u0000" is not U+0000.
    schema_grammar({"type": "object", "properties": {"maxLength": {"type": "integer"}}})
    schema_grammar({"const": "\\u0000"})
    schema_grammar({"type": "string", "pattern": "^[a-z]{3}-\\d{1,4}$"})


def test_plans_name_the_fields_their_schemas_came_from() -> None:
    weather = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    time = {"type": "function", "function": {"name": "time"}}
    required = output_plan({"tools": [weather, time], "tool_choice": "required"})
    assert [param for param, _ in required.sources] == [
        "tools[0].function.parameters",
        "tools[1].function.parameters",
    ]
    named = output_plan(
        {"tools": [weather, time], "tool_choice": {"type": "function", "function": {"name": "time"}}}
    )
    assert named.sources == (("tools[1].function.parameters", {"type": "object"}),)
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}
    assert output_plan({"response_format": fmt}).sources == (
        ("response_format.json_schema.schema", {"type": "array"}),
    )
