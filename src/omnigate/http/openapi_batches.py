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

# OpenAI's file-based batch (api/openai_batches.py): the create body and the `Batch` object, whose
# fields not yet known are left out.
_UNIX: Schema = {"type": "integer"}
OPENAI_BATCH_REQUEST = obj(
    {
        "input_file_id": {"type": "string"},
        "endpoint": enum("/v1/chat/completions", "/v1/embeddings"),
        "completion_window": enum("24h"),
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True},
    },
    ("input_file_id", "endpoint", "completion_window"),
)
OPENAI_BATCH = obj(
    {
        "id": {"type": "string"},
        "object": enum("batch"),
        "endpoint": {"type": "string"},
        "input_file_id": {"type": "string"},
        "completion_window": {"type": "string"},
        "status": enum(
            "validating",
            "failed",
            "in_progress",
            "finalizing",
            "completed",
            "expired",
            "cancelling",
            "cancelled",
        ),
        "output_file_id": {"type": "string"},
        "error_file_id": {"type": "string"},
        **{
            name: _UNIX
            for name in (
                "created_at",
                "in_progress_at",
                "expires_at",
                "finalizing_at",
                "completed_at",
                "expired_at",
                "cancelling_at",
                "cancelled_at",
            )
        },
        "request_counts": obj(
            {n: _COUNT for n in ("total", "completed", "failed")}, ("total", "completed", "failed")
        ),
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True},
    },
    ("id", "object", "endpoint", "input_file_id", "completion_window", "status", "created_at"),
)
OPENAI_BATCH_LIST = obj(
    {
        "object": enum("list"),
        "data": {"type": "array", "items": ref("OpenAIBatch")},
        "first_id": {"type": "string", "nullable": True},
        "last_id": {"type": "string", "nullable": True},
        "has_more": {"type": "boolean"},
    },
    ("object", "data", "has_more"),
)

BATCH_COMPONENTS: dict[str, Schema] = {
    "BatchRequest": BATCH_REQUEST,
    "AnyBatchRequest": {"oneOf": [ref("BatchRequest"), ref("OpenAIBatchRequest")]},
    "AnyBatch": {"oneOf": [ref("MessageBatch"), ref("OpenAIBatch")]},
    "OpenAIBatchRequest": OPENAI_BATCH_REQUEST,
    "OpenAIBatch": OPENAI_BATCH,
    "OpenAIBatchList": OPENAI_BATCH_LIST,
    "BatchRequestParams": _PARAMS,
    "MessageBatch": MESSAGE_BATCH,
    "MessageBatchResult": BATCH_RESULT,
}
