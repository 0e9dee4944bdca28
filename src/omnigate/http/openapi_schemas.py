"""The JSON schemas of the OpenAPI document (components/schemas): the admin and key bodies, the
answers and the errors, and the table of every component (the model routes' request bodies are in
openapi_requests.py).
"""

from __future__ import annotations

from omnigate.api.keys import RETENTIONS
from omnigate.http.openapi_batches import BATCH_COMPONENTS
from omnigate.http.openapi_files import FILE_COMPONENTS
from omnigate.http.openapi_media import MEDIA_COMPONENTS
from omnigate.http.openapi_requests import (
    CHAT_REQUEST,
    EMBEDDING_REQUEST,
    JSON_SCHEMA,
    MESSAGES_REQUEST,
    RESPONSE_REQUEST,
    SSE,
    Schema,
    enum,
    obj,
)
from omnigate.http.openapi_search import SEARCH_COMPONENTS
from omnigate.http.openapi_usage import USAGE_COMPONENTS
from omnigate.http.scopes import SCOPES
from omnigate.store.rows import BUDGET_PERIODS

# Limits on an account or key (api/admin.py parse_limits): null removes one.
_LIMIT_COUNT: Schema = {"type": "integer", "minimum": 1, "nullable": True}
_LIMITS_FIELDS: dict[str, Schema] = {
    "rpm": _LIMIT_COUNT,
    "tpm": _LIMIT_COUNT,
    "concurrency": _LIMIT_COUNT,
    "budget": {"type": "integer", "minimum": 0, "nullable": True},
    "budget_period": enum(*BUDGET_PERIODS),
}
_SCOPES: Schema = {"type": "array", "items": enum(*SCOPES)}
ACCOUNT_REQUEST = obj(
    {
        "name": {"type": "string", "minLength": 1},
        "low_balance_threshold": {"type": "integer", "minimum": 0},
        **_LIMITS_FIELDS,
    },
    ("name",),
)
TOP_UP_REQUEST = obj({"credits": {"type": "integer"}, "note": {"type": "string"}}, ("credits",))
KEY_REQUEST = obj(
    {
        "account": {"type": "string"},
        "admin": {"type": "boolean"},
        "name": {"type": "string"},
        "scopes": _SCOPES,
        **_LIMITS_FIELDS,
    }
)
KEY_UPDATE = obj(
    {"name": {"type": "string"}, "disabled": {"type": "boolean"}, "scopes": _SCOPES, **_LIMITS_FIELDS}
)
# The service's own key routes (/v1/keys): a spending limit in USD, and our rate limits beside it.
_SERVICE_LIMITS: dict[str, Schema] = {
    "limit": obj(
        {"retention": enum(*RETENTIONS), "threshold": {"type": "number", "minimum": 0}},
        ("threshold",),
        nullable=True,
    ),
    "rate_limits": obj({name: _LIMIT_COUNT for name in ("rpm", "tpm", "concurrency")}),
}
SERVICE_KEY_REQUEST = obj(
    {
        "account": {"type": "string"},
        "admin": {"type": "boolean"},
        "name": {"type": "string"},
        "scopes": _SCOPES,
        **_SERVICE_LIMITS,
    }
)
SERVICE_KEY_UPDATE = obj(
    {"name": {"type": "string"}, "disabled": {"type": "boolean"}, "scopes": _SCOPES, **_SERVICE_LIMITS}
)

_LIST: Schema = obj(
    {"object": enum("list"), "data": {"type": "array", "items": {"type": "object"}}}, ("data",)
)
_LIMITS = obj({**_LIMITS_FIELDS, "budget_period": {**enum(*BUDGET_PERIODS), "nullable": True}})
_ACCOUNT = obj(
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
_KEY = obj(
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
_SERVICE_KEY = obj(
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
    return obj({"data": schema}, ("data",))


# The one error body every route but /v1/messages sends (errors.py error_payload): OpenAI's
# `error` object and the service's own fields side by side.
ERROR = obj(
    {
        "error": obj(
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
ANTHROPIC_ERROR = obj(
    {
        "type": enum("error"),
        "error": obj({"type": {"type": "string"}, "message": {"type": "string"}}, ("type", "message")),
        "request_id": {"type": "string"},
    },
    ("type", "error"),
)

COMPONENTS: dict[str, Schema] = {
    **MEDIA_COMPONENTS,
    **USAGE_COMPONENTS,
    **BATCH_COMPONENTS,
    **FILE_COMPONENTS,
    **SEARCH_COMPONENTS,
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
    "AccountLimits": obj(_LIMITS_FIELDS),
    "ServiceKeyRequest": SERVICE_KEY_REQUEST,
    "ServiceKeyUpdate": SERVICE_KEY_UPDATE,
    "ChatCompletion": obj(
        {
            "id": {"type": "string"},
            "object": enum("chat.completion"),
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
        ("id", "object", "model", "choices"),
    ),
    "Embeddings": obj(
        {
            "object": enum("list"),
            "model": {"type": "string"},
            "data": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
        ("object", "model", "data"),
    ),
    "Response": obj(
        {"id": {"type": "string"}, "object": enum("response"), "model": {"type": "string"}},
        ("id", "object"),
    ),
    "ResponseDeleted": obj(
        {"id": {"type": "string"}, "object": enum("response.deleted"), "deleted": {"type": "boolean"}},
        ("id", "object", "deleted"),
    ),
    "Message": obj(
        {"id": {"type": "string"}, "type": enum("message"), "content": {"type": "array"}},
        ("id", "type", "content"),
    ),
    "List": _LIST,
    "ModelList": _LIST,
    "ModelDetail": obj(
        {
            "object": enum("model"),
            "data": obj(
                {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "parameters": {"type": "object", "nullable": True},
                    "price": {"type": "object", "nullable": True, "additionalProperties": {"type": "number"}},
                    "routed": {"type": "boolean"},
                },
                ("id", "type", "parameters", "price", "routed"),
            ),
        },
        ("object", "data"),
    ),
    "Balance": obj(
        {
            "balance": {"type": "integer"},
            "lowBalance": {"type": "boolean"},
            "lowBalanceThreshold": {"type": "integer"},
            "lastUpdated": {"type": "string"},
            "autoDebitStatus": {"type": "string"},
            "status": enum("current", "low"),
            "statusExplanation": {"type": "string"},
        },
        ("balance", "lowBalance", "status"),
    ),
    "Account": _ACCOUNT,
    "Key": _KEY,
    "CreatedKey": {"allOf": [_KEY, obj({"key": {"type": "string"}}, ("key",))]},
    "ServiceKey": _data(_SERVICE_KEY),
    "ServiceKeys": _data({"type": "array", "items": _SERVICE_KEY}),
    "ServiceKeyDeleted": _data(
        obj({"prefix": {"type": "string"}, "deleted": {"type": "boolean"}}, ("prefix", "deleted"))
    ),
    "EventStream": SSE,
    "OpenAPI": {"type": "object"},
    "Health": obj({"status": enum("ok")}, ("status",)),
    # api/ops.py: each check says "ok", "not configured" (Redis) or what is wrong.
    "Readiness": obj(
        {
            "status": enum("ready", "not ready"),
            "checks": obj(
                {"database": {"type": "string"}, "redis": {"type": "string"}, "routes": {"type": "string"}},
                ("database", "redis", "routes"),
            ),
        },
        ("status", "checks"),
    ),
    "MetricsText": {"type": "string", "description": "Prometheus text exposition format 0.0.4"},
}
