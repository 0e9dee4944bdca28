"""The JSON schemas of the OpenAPI document (components/schemas): request bodies, answers, errors.

They describe what the handlers accept across every model, in OpenAPI 3.0's dialect (`nullable`).
A model's own rules may narrow them further (a 400 names the field); `model` is a reference the
document fills with the ids this gateway serves (see openapi.py).
"""

from __future__ import annotations

from typing import Any

from omnigate.api.keys import RETENTIONS
from omnigate.http.scopes import SCOPES
from omnigate.store.rows import BUDGET_PERIODS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def _str_array(max_items: int | None = None) -> Schema:
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
JSON_SCHEMA = _obj(
    {
        "type": _enum("object", "array", "string", "integer", "number", "boolean", "null"),
        "properties": {"type": "object", "additionalProperties": _JSON_SCHEMA},
        "required": _str_array(),
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
_SSE: Schema = {"type": "string", "description": "Server-sent events, ending as the API's streams end."}

_CHAT_TOOL_CALL = _obj(
    {
        "id": {"type": "string"},
        "type": _enum("function"),
        "function": _obj(
            {"name": {"type": "string"}, "arguments": {"type": "string"}}, ("name", "arguments")
        ),
    },
    ("id", "type", "function"),
)
_CHAT_PART = {
    "oneOf": [
        _obj({"type": _enum("text"), "text": {"type": "string"}}, ("type", "text")),
        _obj(
            {"type": _enum("image_url"), "image_url": _obj({"url": {"type": "string"}}, ("url",))},
            ("type", "image_url"),
        ),
    ]
}
_CHAT_MESSAGE = _obj(
    {
        "role": _enum("system", "developer", "user", "assistant", "tool"),
        "content": {"nullable": True, "anyOf": [{"type": "string"}, {"type": "array", "items": _CHAT_PART}]},
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": _CHAT_TOOL_CALL},
        "tool_call_id": {"type": "string"},
    },
    ("role",),
)
_CHAT_TOOL = _obj(
    {
        "type": _enum("function"),
        "function": _obj(
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
        _obj({"type": _enum("text")}, ("type",)),
        _obj({"type": _enum("json_object")}, ("type",)),
        _obj(
            {
                "type": _enum("json_schema"),
                "json_schema": _obj(
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

CHAT_REQUEST = _obj(
    {
        "model": ref("ChatModel"),
        "messages": {"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
        "max_tokens": _COUNT,
        "max_completion_tokens": _COUNT,
        "temperature": _NUMBER_0_2,
        "top_p": _NUMBER_0_1,
        "n": _COUNT,
        "stream": {"type": "boolean"},
        "stream_options": _obj({"include_usage": {"type": "boolean"}}),
        "stop": {"nullable": True, "anyOf": [{"type": "string"}, _str_array(4)]},
        "seed": {"type": "integer"},
        "presence_penalty": _PENALTY,
        "frequency_penalty": _PENALTY,
        "response_format": _RESPONSE_FORMAT,
        "tools": {"type": "array", "items": _CHAT_TOOL},
        "tool_choice": {
            "anyOf": [
                _enum("none", "auto", "required"),
                _obj(
                    {"type": _enum("function"), "function": _obj({"name": {"type": "string"}}, ("name",))},
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
EMBEDDING_REQUEST = _obj(
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
        "encoding_format": _enum("float", "base64"),
        "dimensions": _COUNT,
        "user": {"type": "string"},
    },
    ("model", "input"),
)

_RESPONSE_TEXT_PART = _obj(
    {"type": _enum("input_text", "output_text"), "text": {"type": "string"}}, ("type", "text")
)
_RESPONSE_INPUT_ITEM = {
    "oneOf": [
        _obj(
            {
                "type": _enum("message"),
                "role": _enum("user", "system", "developer", "assistant"),
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _RESPONSE_TEXT_PART}]},
            },
            ("role", "content"),
        ),
        _obj(
            {
                "type": _enum("function_call"),
                "call_id": {"type": "string"},
                "name": {"type": "string"},
                "arguments": {"type": "string"},
            },
            ("type", "call_id", "name", "arguments"),
        ),
        _obj(
            {
                "type": _enum("function_call_output"),
                "call_id": {"type": "string"},
                "output": {"type": "string"},
            },
            ("type", "call_id", "output"),
        ),
    ]
}
_RESPONSE_FORMAT_TEXT = {
    "oneOf": [
        _obj({"type": _enum("text")}, ("type",)),
        _obj({"type": _enum("json_object")}, ("type",)),
        _obj(
            {
                "type": _enum("json_schema"),
                "name": {"type": "string"},
                "schema": _JSON_SCHEMA,
                "strict": {"type": "boolean", "nullable": True},
            },
            ("type", "name", "schema"),
        ),
    ]
}
RESPONSE_REQUEST = _obj(
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
            "items": _obj(
                {
                    "type": _enum("function"),
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
                _enum("none", "auto", "required"),
                _obj({"type": _enum("function"), "name": {"type": "string"}}, ("type", "name")),
            ]
        },
        "text": _obj({"format": _RESPONSE_FORMAT_TEXT}),
        "reasoning": _obj({"effort": _enum("minimal", "low", "medium", "high")}),
        "previous_response_id": {"type": "string"},
        "store": {"type": "boolean"},
        "stream": {"type": "boolean"},
        "truncation": _enum("auto", "disabled"),
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "parallel_tool_calls": {"type": "boolean"},
        "user": {"type": "string"},
    },
    ("model", "input"),
)

_ANTHROPIC_BLOCK = {
    "oneOf": [
        _obj({"type": _enum("text"), "text": {"type": "string"}}, ("type", "text")),
        _obj(
            {
                "type": _enum("tool_use"),
                "id": {"type": "string"},
                "name": {"type": "string"},
                "input": {"type": "object"},
            },
            ("type", "id", "name", "input"),
        ),
        _obj(
            {
                "type": _enum("tool_result"),
                "tool_use_id": {"type": "string"},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            },
            ("type", "tool_use_id"),
        ),
    ]
}
MESSAGES_REQUEST = _obj(
    {
        "model": ref("ChatModel"),
        "max_tokens": _COUNT,
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": _obj(
                {
                    "role": _enum("user", "assistant"),
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
                    "items": _obj({"type": _enum("text"), "text": {"type": "string"}}, ("type", "text")),
                },
            ]
        },
        "temperature": _NUMBER_0_1,
        "top_p": _NUMBER_0_1,
        "top_k": {"type": "integer", "minimum": 0},
        "stop_sequences": _str_array(),
        "stream": {"type": "boolean"},
        "metadata": _obj({"user_id": {"type": "string"}}),
        "tools": {
            "type": "array",
            "items": _obj(
                {"name": {"type": "string"}, "description": {"type": "string"}, "input_schema": _JSON_SCHEMA},
                ("name", "input_schema"),
            ),
        },
        "tool_choice": _obj(
            {"type": _enum("auto", "any", "tool", "none"), "name": {"type": "string"}}, ("type",)
        ),
    },
    ("model", "max_tokens", "messages"),
)

# Limits on an account or key (api/admin.py parse_limits): null removes one.
_LIMIT_COUNT: Schema = {"type": "integer", "minimum": 1, "nullable": True}
_LIMITS_FIELDS: dict[str, Schema] = {
    "rpm": _LIMIT_COUNT,
    "tpm": _LIMIT_COUNT,
    "concurrency": _LIMIT_COUNT,
    "budget": {"type": "integer", "minimum": 0, "nullable": True},
    "budget_period": _enum(*BUDGET_PERIODS),
}
_SCOPES: Schema = {"type": "array", "items": _enum(*SCOPES)}
ACCOUNT_REQUEST = _obj(
    {
        "name": {"type": "string", "minLength": 1},
        "low_balance_threshold": {"type": "integer", "minimum": 0},
        **_LIMITS_FIELDS,
    },
    ("name",),
)
TOP_UP_REQUEST = _obj({"credits": {"type": "integer"}, "note": {"type": "string"}}, ("credits",))
KEY_REQUEST = _obj(
    {
        "account": {"type": "string"},
        "admin": {"type": "boolean"},
        "name": {"type": "string"},
        "scopes": _SCOPES,
        **_LIMITS_FIELDS,
    }
)
KEY_UPDATE = _obj(
    {"name": {"type": "string"}, "disabled": {"type": "boolean"}, "scopes": _SCOPES, **_LIMITS_FIELDS}
)
# The service's own key routes (/v1/keys): a spending limit in USD, and our rate limits beside it.
_SERVICE_LIMITS: dict[str, Schema] = {
    "limit": _obj(
        {"retention": _enum(*RETENTIONS), "threshold": {"type": "number", "minimum": 0}},
        ("threshold",),
        nullable=True,
    ),
    "rate_limits": _obj({name: _LIMIT_COUNT for name in ("rpm", "tpm", "concurrency")}),
}
SERVICE_KEY_REQUEST = _obj(
    {
        "account": {"type": "string"},
        "admin": {"type": "boolean"},
        "name": {"type": "string"},
        "scopes": _SCOPES,
        **_SERVICE_LIMITS,
    }
)
SERVICE_KEY_UPDATE = _obj(
    {"name": {"type": "string"}, "disabled": {"type": "boolean"}, "scopes": _SCOPES, **_SERVICE_LIMITS}
)

_LIST: Schema = _obj(
    {"object": _enum("list"), "data": {"type": "array", "items": {"type": "object"}}}, ("data",)
)
_LIMITS = _obj({**_LIMITS_FIELDS, "budget_period": {**_enum(*BUDGET_PERIODS), "nullable": True}})
_ACCOUNT = _obj(
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "balance": {"type": "integer"},
        "low_balance_threshold": {"type": "integer"},
        "updated_at": {"type": "string"},
        "limits": _LIMITS,
    },
    ("id", "name", "balance"),
)
_KEY = _obj(
    {
        "prefix": {"type": "string"},
        "name": {"type": "string"},
        "account_id": {"type": "integer"},
        "account": {"type": "string", "nullable": True},
        "admin": {"type": "boolean"},
        "disabled": {"type": "boolean"},
        "created_at": {"type": "string"},
        "scopes": _SCOPES,
        "limits": _LIMITS,
    },
    ("prefix", "admin", "disabled"),
)
_SERVICE_KEY = _obj(
    {
        "prefix": {"type": "string"},
        "name": {"type": "string"},
        "disabled": {"type": "boolean"},
        "scopes": _SCOPES,
        "limit": _SERVICE_LIMITS["limit"],
        "rate_limits": _SERVICE_LIMITS["rate_limits"],
        "monthly_usage": {"type": "number"},
        "account": {"type": "string", "nullable": True},
        "admin": {"type": "boolean"},
        "key": {"type": "string", "description": "Only when the key is created"},
    },
    ("prefix", "disabled"),
)


def _data(schema: Schema) -> Schema:
    return _obj({"data": schema}, ("data",))


# The one error body every route but /v1/messages sends (errors.py error_payload): OpenAI's
# `error` object and the service's own fields side by side.
ERROR = _obj(
    {
        "error": _obj(
            {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string", "nullable": True},
                "param": {"type": "string", "nullable": True},
            },
            ("message", "type", "code", "param"),
        ),
        "message": {"type": "string"},
        "statusCode": {"type": "integer"},
        "path": {"type": "string"},
        "requestId": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
    },
    ("error", "message", "statusCode", "path", "requestId", "timestamp"),
)
# /v1/messages answers errors in Anthropic's shape, so the anthropic SDK raises its own exceptions.
ANTHROPIC_ERROR = _obj(
    {
        "type": _enum("error"),
        "error": _obj({"type": {"type": "string"}, "message": {"type": "string"}}, ("type", "message")),
        "request_id": {"type": "string"},
    },
    ("type", "error"),
)

COMPONENTS: dict[str, Schema] = {
    "Error": ERROR,
    "AnthropicError": ANTHROPIC_ERROR,
    "ChatCompletionRequest": CHAT_REQUEST,
    "EmbeddingRequest": EMBEDDING_REQUEST,
    "ResponseRequest": RESPONSE_REQUEST,
    "MessagesRequest": MESSAGES_REQUEST,
    "JsonSchema": JSON_SCHEMA,
    "AccountRequest": ACCOUNT_REQUEST,
    "TopUpRequest": TOP_UP_REQUEST,
    "KeyRequest": KEY_REQUEST,
    "KeyUpdate": KEY_UPDATE,
    "AccountLimits": _obj(_LIMITS_FIELDS),
    "ServiceKeyRequest": SERVICE_KEY_REQUEST,
    "ServiceKeyUpdate": SERVICE_KEY_UPDATE,
    "ChatCompletion": _obj(
        {
            "id": {"type": "string"},
            "object": _enum("chat.completion"),
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
        ("id", "object", "model", "choices"),
    ),
    "Embeddings": _obj(
        {
            "object": _enum("list"),
            "model": {"type": "string"},
            "data": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
        ("object", "model", "data"),
    ),
    "Response": _obj(
        {"id": {"type": "string"}, "object": _enum("response"), "model": {"type": "string"}},
        ("id", "object"),
    ),
    "ResponseDeleted": _obj(
        {"id": {"type": "string"}, "object": _enum("response.deleted"), "deleted": {"type": "boolean"}},
        ("id", "object", "deleted"),
    ),
    "Message": _obj(
        {"id": {"type": "string"}, "type": _enum("message"), "content": {"type": "array"}},
        ("id", "type", "content"),
    ),
    "List": _LIST,
    "ModelList": _LIST,
    "Balance": _obj(
        {
            "balance": {"type": "integer"},
            "lowBalance": {"type": "boolean"},
            "lowBalanceThreshold": {"type": "integer"},
            "lastUpdated": {"type": "string"},
            "autoDebitStatus": {"type": "string"},
            "status": _enum("current", "low"),
            "statusExplanation": {"type": "string"},
        },
        ("balance", "lowBalance", "status"),
    ),
    "Account": _ACCOUNT,
    "Key": _KEY,
    "CreatedKey": {"allOf": [_KEY, _obj({"key": {"type": "string"}}, ("key",))]},
    "ServiceKey": _data(_SERVICE_KEY),
    "ServiceKeys": _data({"type": "array", "items": _SERVICE_KEY}),
    "ServiceKeyDeleted": _data(
        _obj({"prefix": {"type": "string"}, "deleted": {"type": "boolean"}}, ("prefix", "deleted"))
    ),
    "EventStream": _SSE,
    "OpenAPI": {"type": "object"},
}
