"""The OpenAPI parts of the usage, log, billing and model-metrics routes (api/usage.py,
api/billing.py, telemetry/model_metrics.py): their query parameters and answers."""

from __future__ import annotations

from omnigate.api.usage import GROUPINGS
from omnigate.api.usage_params import DEFAULT_PAGE, MAX_PAGE, PERIODS
from omnigate.http.openapi_requests import Schema, enum, obj


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_ACCOUNT = _query("account", {"type": "string"}, "Another account's name (admin keys only)")
_KEY_PREFIX = _query("key_prefix", {"type": "string", "maxLength": 32}, "Only this key's requests")
_RANGE = (
    _query("period", enum(*PERIODS), "The last 24 hours or 7 days (the default for usage: 24h)"),
    _query("start", {"type": "string"}, "ISO 8601 date or time; with end, at most 92 days apart"),
    _query("end", {"type": "string"}, "ISO 8601 date (the whole day counts) or time, exclusive"),
    _query("tz", {"type": "string", "default": "UTC"}, "IANA time zone of days and of times without one"),
)
_PAGE = (
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}, "Rows"),
    _query("cursor", {"type": "string"}, "pagination.next_cursor of the previous page"),
)
_GROUP_BY = _query(
    "group_by", enum(*(g for g in GROUPINGS if g != "model,day")), "Sums per local day, model, or both"
)

USAGE_PARAMETERS = (*_RANGE, _KEY_PREFIX, _GROUP_BY, _ACCOUNT)
LOG_PARAMETERS = (*_PAGE, *_RANGE, _KEY_PREFIX, _ACCOUNT)
TRANSACTION_PARAMETERS = (*_PAGE, _ACCOUNT)

_INT: Schema = {"type": "integer"}
_NUMBER: Schema = {"type": "number"}
_TEXT: Schema = {"type": "string", "nullable": True}
_SUMS: dict[str, Schema] = {
    "requests": _INT,
    "failed": _INT,
    "prompt_tokens": _INT,
    "completion_tokens": _INT,
    "credits": _INT,
    "usd_spent": _NUMBER,
}
_USAGE_ROW = obj(
    {"day": {"type": "string", "format": "date"}, "model": _TEXT, "key_prefix": {"type": "string"}, **_SUMS},
    tuple(_SUMS),
)
_PAGINATION = obj({"next_cursor": _TEXT, "has_more": {"type": "boolean"}}, ("next_cursor", "has_more"))
_LOG_ROW = obj(
    {
        "request_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "key_prefix": {"type": "string"},
        "method": {"type": "string"},
        "route": {"type": "string"},
        "model": _TEXT,
        "provider": _TEXT,
        "status": _INT,
        "error_code": _TEXT,
        "stream": {"type": "boolean"},
        "prompt_tokens": _INT,
        "completion_tokens": _INT,
        "credits": _INT,
        "usd_spent": _NUMBER,
        "duration_ms": _NUMBER,
        "ttft_ms": {"type": "number", "nullable": True},
        "overhead_ms": _NUMBER,
    },
    ("request_id", "created_at", "status"),
)
_TRANSACTION = obj(
    {
        "id": _INT,
        "entry_id": _TEXT,
        "kind": enum("charge", "refund", "topup"),
        "credits": _INT,
        "amount": _NUMBER,
        "key_prefix": _TEXT,
        "model": _TEXT,
        "request_id": _TEXT,
        "prompt_tokens": {"type": "integer", "nullable": True},
        "completion_tokens": {"type": "integer", "nullable": True},
        "note": _TEXT,
        "created_at": {"type": "string", "format": "date-time"},
    },
    ("id", "kind", "credits", "amount", "created_at"),
)
_PERCENTILES = obj({f"p{q}": _NUMBER for q in (50, 75, 90, 99)}, nullable=True)


def _paged(row: Schema) -> Schema:
    return obj(
        {
            "object": enum("list"),
            "account": {"type": "string"},
            "data": {"type": "array", "items": row},
            "pagination": _PAGINATION,
        },
        ("object", "data", "pagination"),
    )


USAGE_COMPONENTS: dict[str, Schema] = {
    "Usage": obj(
        {
            "object": enum("usage"),
            "account": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "tz": {"type": "string"},
            "key_prefix": _TEXT,
            "group_by": _TEXT,
            "totals": _USAGE_ROW,
            "data": {"type": "array", "items": _USAGE_ROW},
        },
        ("object", "start", "end", "totals", "data"),
    ),
    "RequestLog": _paged(_LOG_ROW),
    "Transactions": _paged(_TRANSACTION),
    "Billing": obj(
        {
            "current_balance": _NUMBER,
            "currency": enum("USD"),
            "credits": _INT,
            "low_balance": {"type": "boolean"},
            "account": {"type": "string"},
        },
        ("current_balance", "currency"),
    ),
    "ModelMetrics": obj(
        {
            "object": enum("list"),
            "window_s": _NUMBER,
            "data": {
                "type": "array",
                "items": obj(
                    {
                        "model": {"type": "string"},
                        "requests": _INT,
                        "ttft_ms": _PERCENTILES,
                        "tps": _PERCENTILES,
                        "duration_ms": _PERCENTILES,
                    },
                    ("model", "requests"),
                ),
            },
        },
        ("object", "data"),
    ),
}

# path, summary, answer, parameters: every one a GET with a key (but /models/metrics).
USAGE_ROUTES: tuple[tuple[str, str, str, tuple[Schema, ...]], ...] = (
    ("/v2/usage", "Requests, tokens and credits of an account, summed", "Usage", USAGE_PARAMETERS),
    ("/v2/usage/detail", "The same sums, split per key", "Usage", USAGE_PARAMETERS),
    ("/v2/logs", "One row per request, failures included, newest first", "RequestLog", LOG_PARAMETERS),
    ("/v2/billing", "The account balance in USD", "Billing", (_ACCOUNT,)),
    ("/v2/billing/transactions", "The ledger, newest first", "Transactions", TRANSACTION_PARAMETERS),
)
