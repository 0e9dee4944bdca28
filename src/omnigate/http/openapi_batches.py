"""The message batches' schemas for the OpenAPI document (api/batches.py): the create body, whose
requests are Anthropic Messages requests, the `message_batch` object, and a line of the results."""

from __future__ import annotations

from omnigate.http.openapi_requests import MESSAGES_REQUEST, Schema, enum, obj, ref

_TIME: Schema = {"type": "string", "format": "date-time"}
_NULLABLE_TIME: Schema = {**_TIME, "nullable": True}
_COUNT: Schema = {"type": "integer", "minimum": 0}

# A request of a batch: a Messages request that cannot stream, `max_tokens` 1024 unless given.
_PARAMS: Schema = {
    **MESSAGES_REQUEST,
    "properties": {k: v for k, v in MESSAGES_REQUEST["properties"].items() if k != "stream"},
    "required": ["model", "messages"],
}

BATCH_REQUEST = obj(
    {
        "requests": {
            "type": "array",
            "minItems": 1,
            "items": obj(
                {
                    "custom_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "params": ref("BatchRequestParams"),
                },
                ("custom_id", "params"),
            ),
        }
    },
    ("requests",),
)

MESSAGE_BATCH = obj(
    {
        "id": {"type": "string"},
        "type": enum("message_batch"),
        "processing_status": enum("in_progress", "canceling", "ended"),
        "request_counts": obj(
            {name: _COUNT for name in ("processing", "succeeded", "errored", "canceled", "expired")},
            ("processing", "succeeded", "errored", "canceled", "expired"),
        ),
        "ended_at": _NULLABLE_TIME,
        "created_at": _TIME,
        "expires_at": _TIME,
        "cancel_initiated_at": _NULLABLE_TIME,
        "results_url": {"type": "string", "nullable": True},
    },
    ("id", "type", "processing_status", "request_counts", "created_at", "expires_at"),
)

# One line of the JSONL results: the request's custom_id and how it ended.
BATCH_RESULT = obj(
    {
        "custom_id": {"type": "string"},
        "result": obj(
            {
                "type": enum("succeeded", "errored", "canceled", "expired"),
                "message": ref("Message"),
                "error": obj({"type": enum("error"), "error": obj({"type": {"type": "string"}})}),
            },
            ("type",),
        ),
    },
    ("custom_id", "result"),
)

BATCH_COMPONENTS: dict[str, Schema] = {
    "BatchRequest": BATCH_REQUEST,
    "BatchRequestParams": _PARAMS,
    "MessageBatch": MESSAGE_BATCH,
    "MessageBatchResult": BATCH_RESULT,
}
