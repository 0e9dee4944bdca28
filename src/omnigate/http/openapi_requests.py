"""The request bodies of the model routes (chat, embeddings, Responses, Anthropic Messages) for
the OpenAPI document, and the small builders every schema of it uses.

They describe what the handlers accept across every model, in OpenAPI 3.0's dialect (`nullable`).
A model's own rules may narrow them further (a 400 names the field); `model` is a reference the
document fills with the ids this gateway serves (see openapi.py).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def str_array(max_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": {"type": "string"}}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


_NUMBER_0_2: Schema = {"type": "number", "minimum": 0, "maximum": 2}
_NUMBER_0_1: Schema = {"type": "number", "minimum": 0, "maximum": 1}
_PENALTY: Schema = {"type": "number", "minimum": -2, "maximum": 2}
_COUNT: Schema = {"type": "integer", "minimum": 1}
# A JSON schema given by the client (tool parameters, structured output). Any object is
# accepted; the keywords listed are those a local model's grammar enforces.
_JSON_SCHEMA: Schema = ref("JsonSchema")
_SUBSCHEMAS: Schema = {"type": "array", "items": _JSON_SCHEMA}
_BOUND: Schema = {"type": "integer", "minimum": 0}
JSON_SCHEMA = obj(
    {
        "type": enum("object", "array", "string", "integer", "number", "boolean", "null"),
        "properties": {"type": "object", "additionalProperties": _JSON_SCHEMA},
        "required": str_array(),
        "additionalProperties": {"type": "boolean"},
        "items": _JSON_SCHEMA,
        "enum": {"type": "array", "items": {}},
        "const": {},
        "anyOf": _SUBSCHEMAS,
        "oneOf": _SUBSCHEMAS,
        "allOf": _SUBSCHEMAS,
        "$ref": {"type": "string"},
        "$defs": {"type": "object", "additionalProperties": _JSON_SCHEMA},
        "pattern": {"type": "string"},
        "format": {"type": "string"},
        "minLength": _BOUND,
        "maxLength": _BOUND,
        "minItems": _BOUND,
        "maxItems": _BOUND,
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
    },
    additionalProperties=True,
)
SSE: Schema = {"type": "string", "description": "Server-sent events, ending as the API's streams end."}

_CHAT_TOOL_CALL = obj(
    {
        "id": {"type": "string"},
        "type": enum("function"),
        "function": obj({"name": {"type": "string"}, "arguments": {"type": "string"}}, ("name", "arguments")),
    },
    ("id", "type", "function"),
)
_CHAT_PART = {
    "oneOf": [
        obj({"type": enum("text"), "text": {"type": "string"}}, ("type", "text")),
        obj(
            {"type": enum("image_url"), "image_url": obj({"url": {"type": "string"}}, ("url",))},
            ("type", "image_url"),
        ),
    ]
}
_CHAT_MESSAGE = obj(
    {
        "role": enum("system", "developer", "user", "assistant", "tool"),
        "content": {"nullable": True, "anyOf": [{"type": "string"}, {"type": "array", "items": _CHAT_PART}]},
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": _CHAT_TOOL_CALL},
        "tool_call_id": {"type": "string"},
    },
    ("role",),
)
_CHAT_TOOL = obj(
    {
        "type": enum("function"),
        "function": obj(
            {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "parameters": _JSON_SCHEMA,
                "strict": {"type": "boolean", "nullable": True},
            },
            ("name",),
        ),
    },
    ("type", "function"),
)
_RESPONSE_FORMAT = {
    "oneOf": [
        obj({"type": enum("text")}, ("type",)),
        obj({"type": enum("json_object")}, ("type",)),
        obj(
            {
                "type": enum("json_schema"),
                "json_schema": obj(
                    {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "schema": _JSON_SCHEMA,
                        "strict": {"type": "boolean", "nullable": True},
                    },
                    ("name",),
                ),
            },
            ("type", "json_schema"),
        ),
    ]
}

CHAT_REQUEST = obj(
    {
        "model": ref("ChatModel"),
        "messages": {"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
        "max_tokens": _COUNT,
        "max_completion_tokens": _COUNT,
        "temperature": _NUMBER_0_2,
        "top_p": _NUMBER_0_1,
        "n": _COUNT,
        "stream": {"type": "boolean"},
        "stream_options": obj({"include_usage": {"type": "boolean"}}),
        "stop": {"nullable": True, "anyOf": [{"type": "string"}, str_array(4)]},
        "seed": {"type": "integer"},
        "presence_penalty": _PENALTY,
        "frequency_penalty": _PENALTY,
        "response_format": _RESPONSE_FORMAT,
        "tools": {"type": "array", "items": _CHAT_TOOL},
        "tool_choice": {
            "anyOf": [
                enum("none", "auto", "required"),
                obj(
                    {"type": enum("function"), "function": obj({"name": {"type": "string"}}, ("name",))},
                    ("type", "function"),
                ),
            ]
        },
        "parallel_tool_calls": {"type": "boolean"},
        "user": {"type": "string"},
    },
    ("model", "messages"),
)

_TOKEN_IDS: Schema = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}
EMBEDDING_REQUEST = obj(
    {
        "model": ref("EmbeddingModel"),
        "input": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": {"type": "string"}},
                _TOKEN_IDS,
                {"type": "array", "minItems": 1, "maxItems": 2048, "items": _TOKEN_IDS},
            ]
        },
        "encoding_format": enum("float", "base64"),
        "dimensions": _COUNT,
        "user": {"type": "string"},
    },
    ("model", "input"),
)

_RESPONSE_TEXT_PART = obj(
    {"type": enum("input_text", "output_text"), "text": {"type": "string"}}, ("type", "text")
)
_RESPONSE_INPUT_ITEM = {
    "oneOf": [
        obj(
            {
                "type": enum("message"),
                "role": enum("user", "system", "developer", "assistant"),
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _RESPONSE_TEXT_PART}]},
            },
            ("role", "content"),
        ),
        obj(
            {
                "type": enum("function_call"),
                "call_id": {"type": "string"},
                "name": {"type": "string"},
                "arguments": {"type": "string"},
            },
            ("type", "call_id", "name", "arguments"),
        ),
        obj(
            {
                "type": enum("function_call_output"),
                "call_id": {"type": "string"},
                "output": {"type": "string"},
            },
            ("type", "call_id", "output"),
        ),
    ]
}
_RESPONSE_FORMAT_TEXT = {
    "oneOf": [
        obj({"type": enum("text")}, ("type",)),
        obj({"type": enum("json_object")}, ("type",)),
        obj(
            {
                "type": enum("json_schema"),
                "name": {"type": "string"},
                "schema": _JSON_SCHEMA,
                "strict": {"type": "boolean", "nullable": True},
            },
            ("type", "name", "schema"),
        ),
    ]
}
RESPONSE_REQUEST = obj(
    {
        "model": ref("ResponsesModel"),
        "input": {
            "anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": _RESPONSE_INPUT_ITEM}]
        },
        "instructions": {"type": "string"},
        "max_output_tokens": _COUNT,
        "temperature": _NUMBER_0_2,
        "top_p": _NUMBER_0_1,
        "tools": {
            "type": "array",
            "items": obj(
                {
                    "type": enum("function"),
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "parameters": _JSON_SCHEMA,
                    "strict": {"type": "boolean", "nullable": True},
                },
                ("type", "name"),
            ),
        },
        "tool_choice": {
            "anyOf": [
                enum("none", "auto", "required"),
                obj({"type": enum("function"), "name": {"type": "string"}}, ("type", "name")),
            ]
        },
        "text": obj({"format": _RESPONSE_FORMAT_TEXT}),
        "reasoning": obj({"effort": enum("minimal", "low", "medium", "high")}),
        "previous_response_id": {"type": "string"},
        "store": {"type": "boolean"},
        "stream": {"type": "boolean"},
        "truncation": enum("auto", "disabled"),
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "parallel_tool_calls": {"type": "boolean"},
        "user": {"type": "string"},
    },
    ("model", "input"),
)

_ANTHROPIC_BLOCK = {
    "oneOf": [
        obj({"type": enum("text"), "text": {"type": "string"}}, ("type", "text")),
        obj(
            {
                "type": enum("tool_use"),
                "id": {"type": "string"},
                "name": {"type": "string"},
                "input": {"type": "object"},
            },
            ("type", "id", "name", "input"),
        ),
        obj(
            {
                "type": enum("tool_result"),
                "tool_use_id": {"type": "string"},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            },
            ("type", "tool_use_id"),
        ),
    ]
}
MESSAGES_REQUEST = obj(
    {
        "model": ref("ChatModel"),
        "max_tokens": _COUNT,
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": obj(
                {
                    "role": enum("user", "assistant"),
                    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _ANTHROPIC_BLOCK}]},
                },
                ("role", "content"),
            ),
        },
        "system": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": obj({"type": enum("text"), "text": {"type": "string"}}, ("type", "text")),
                },
            ]
        },
        "temperature": _NUMBER_0_1,
        "top_p": _NUMBER_0_1,
        "top_k": {"type": "integer", "minimum": 0},
        "stop_sequences": str_array(),
        "stream": {"type": "boolean"},
        "metadata": obj({"user_id": {"type": "string"}}),
        "tools": {
            "type": "array",
            "items": obj(
                {"name": {"type": "string"}, "description": {"type": "string"}, "input_schema": _JSON_SCHEMA},
                ("name", "input_schema"),
            ),
        },
        "tool_choice": obj(
            {"type": enum("auto", "any", "tool", "none"), "name": {"type": "string"}}, ("type",)
        ),
    },
    ("model", "max_tokens", "messages"),
)
