"""The Assistants API in the OpenAPI document (api/assistants.py, api/runs.py): its routes, the
request bodies with the fields the gateway checks, and the objects in outline (OpenAI's own
schemas are the reference; tests/assistants checks every answer against them)."""

from __future__ import annotations

from omnigate.http.openapi_requests import Schema, enum, obj, ref

_TEXT: Schema = {"type": "string"}
_MAYBE_TEXT: Schema = {"type": "string", "nullable": True}
_METADATA: Schema = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 512}}
_TOOL: Schema = obj(
    {
        "type": enum("function", "file_search"),
        "function": obj({"name": _TEXT, "description": _TEXT, "parameters": {"type": "object"}}, ("name",)),
    },
    ("type",),
)
_TOOL_RESOURCES: Schema = obj({"file_search": obj({"file_ids": {"type": "array", "items": _TEXT}})})
_MESSAGE: Schema = obj(
    {
        "role": enum("user", "assistant"),
        "content": {"oneOf": [_TEXT, {"type": "array", "items": {"type": "object"}}]},
        "attachments": {
            "type": "array",
            "items": obj({"file_id": _TEXT, "tools": {"type": "array"}}, ("file_id",)),
        },
        "metadata": _METADATA,
    },
    ("role", "content"),
)
_ASSISTANT_FIELDS: dict[str, Schema] = {
    "model": ref("ChatModel"),
    "name": {**_MAYBE_TEXT, "maxLength": 256},
    "description": {**_MAYBE_TEXT, "maxLength": 512},
    "instructions": _MAYBE_TEXT,
    "tools": {"type": "array", "items": _TOOL, "maxItems": 128},
    "tool_resources": _TOOL_RESOURCES,
    "metadata": _METADATA,
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "response_format": {"oneOf": [enum("auto"), {"type": "object"}]},
    "reasoning_effort": enum("minimal", "low", "medium", "high"),
}
_RUN_FIELDS: dict[str, Schema] = {
    "assistant_id": _TEXT,
    "model": ref("ChatModel"),
    "instructions": _TEXT,
    "additional_instructions": _TEXT,
    "tools": {"type": "array", "items": _TOOL},
    "metadata": _METADATA,
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "max_prompt_tokens": {"type": "integer", "minimum": 256},
    "max_completion_tokens": {"type": "integer", "minimum": 1},
    "truncation_strategy": obj(
        {"type": enum("auto", "last_messages"), "last_messages": {"type": "integer", "minimum": 1}}, ("type",)
    ),
    "tool_choice": {"oneOf": [enum("none", "auto", "required"), {"type": "object"}]},
    "parallel_tool_calls": {"type": "boolean"},
    "response_format": {"oneOf": [enum("auto"), {"type": "object"}]},
    "reasoning_effort": enum("minimal", "low", "medium", "high"),
    "stream": {"type": "boolean"},
}


def _listed(kind: str) -> Schema:
    return obj(
        {
            "object": enum("list"),
            "data": {"type": "array", "items": ref(kind)},
            "first_id": _MAYBE_TEXT,
            "last_id": _MAYBE_TEXT,
            "has_more": {"type": "boolean"},
        },
        ("object", "data", "has_more"),
    )


def _object(kind: str, statuses: tuple[str, ...] = ()) -> Schema:
    properties: dict[str, Schema] = {"id": _TEXT, "object": enum(kind), "created_at": {"type": "integer"}}
    if statuses:
        properties["status"] = enum(*statuses)
    return obj(properties, ("id", "object", "created_at"))


ASSISTANT_COMPONENTS: dict[str, Schema] = {
    "AssistantRequest": obj(_ASSISTANT_FIELDS, ("model",)),
    "AssistantUpdate": obj(_ASSISTANT_FIELDS),
    "ThreadRequest": obj(
        {
            "messages": {"type": "array", "items": _MESSAGE},
            "tool_resources": _TOOL_RESOURCES,
            "metadata": _METADATA,
        }
    ),
    "ThreadUpdate": obj({"tool_resources": _TOOL_RESOURCES, "metadata": _METADATA}),
    "ThreadMessageRequest": _MESSAGE,
    "MetadataUpdate": obj({"metadata": _METADATA}),
    "RunRequest": obj(
        {**_RUN_FIELDS, "additional_messages": {"type": "array", "items": _MESSAGE}}, ("assistant_id",)
    ),
    "ThreadAndRunRequest": obj({**_RUN_FIELDS, "thread": ref("ThreadRequest")}, ("assistant_id",)),
    "ToolOutputs": obj(
        {
            "tool_outputs": {
                "type": "array",
                "items": obj({"tool_call_id": _TEXT, "output": _TEXT}, ("tool_call_id",)),
            },
            "stream": {"type": "boolean"},
        },
        ("tool_outputs",),
    ),
    "Assistant": _object("assistant"),
    "Thread": _object("thread"),
    "ThreadMessage": _object("thread.message", ("in_progress", "incomplete", "completed")),
    "Run": _object(
        "thread.run",
        (
            "queued",
            "in_progress",
            "requires_action",
            "cancelling",
            "cancelled",
            "failed",
            "completed",
            "incomplete",
            "expired",
        ),
    ),
    "RunStep": _object("thread.run.step", ("in_progress", "cancelled", "failed", "completed", "expired")),
    "Deleted": obj(
        {"id": _TEXT, "object": _TEXT, "deleted": {"type": "boolean"}}, ("id", "object", "deleted")
    ),
    "AssistantList": _listed("Assistant"),
    "ThreadMessageList": _listed("ThreadMessage"),
    "RunList": _listed("Run"),
    "RunStepList": _listed("RunStep"),
}

_PAGE: tuple[Schema, ...] = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    {
        "name": "order",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
    },
    {"name": "after", "in": "query", "required": False, "schema": _TEXT},
    {"name": "before", "in": "query", "required": False, "schema": _TEXT},
)

# (method, path, summary, answer, body, lists, streams)
ASSISTANT_ROUTES: list[tuple[str, str, str, str, str | None, bool, bool]] = [
    ("POST", "/v1/assistants", "Create an assistant", "Assistant", "AssistantRequest", False, False),
    ("GET", "/v1/assistants", "Assistants", "AssistantList", None, True, False),
    ("GET", "/v1/assistants/{assistant_id}", "An assistant", "Assistant", None, False, False),
    (
        "POST",
        "/v1/assistants/{assistant_id}",
        "Modify an assistant",
        "Assistant",
        "AssistantUpdate",
        False,
        False,
    ),
    ("DELETE", "/v1/assistants/{assistant_id}", "Delete an assistant", "Deleted", None, False, False),
    ("POST", "/v1/threads", "Create a thread", "Thread", "ThreadRequest", False, False),
    ("GET", "/v1/threads/{thread_id}", "A thread", "Thread", None, False, False),
    ("POST", "/v1/threads/{thread_id}", "Modify a thread", "Thread", "ThreadUpdate", False, False),
    (
        "DELETE",
        "/v1/threads/{thread_id}",
        "Delete a thread with its messages and runs",
        "Deleted",
        None,
        False,
        False,
    ),
    (
        "POST",
        "/v1/threads/{thread_id}/messages",
        "Add a message",
        "ThreadMessage",
        "ThreadMessageRequest",
        False,
        False,
    ),
    (
        "GET",
        "/v1/threads/{thread_id}/messages",
        "A thread's messages",
        "ThreadMessageList",
        None,
        True,
        False,
    ),
    (
        "GET",
        "/v1/threads/{thread_id}/messages/{message_id}",
        "A message",
        "ThreadMessage",
        None,
        False,
        False,
    ),
    (
        "POST",
        "/v1/threads/{thread_id}/messages/{message_id}",
        "Modify a message",
        "ThreadMessage",
        "MetadataUpdate",
        False,
        False,
    ),
    (
        "DELETE",
        "/v1/threads/{thread_id}/messages/{message_id}",
        "Delete a message",
        "Deleted",
        None,
        False,
        False,
    ),
    ("POST", "/v1/threads/runs", "Create a thread and run it", "Run", "ThreadAndRunRequest", False, True),
    ("POST", "/v1/threads/{thread_id}/runs", "Create a run", "Run", "RunRequest", False, True),
    ("GET", "/v1/threads/{thread_id}/runs", "A thread's runs", "RunList", None, True, False),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}", "A run", "Run", None, False, False),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}", "Modify a run", "Run", "MetadataUpdate", False, False),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}/cancel", "Cancel a run", "Run", None, False, False),
    (
        "POST",
        "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "Submit tool outputs",
        "Run",
        "ToolOutputs",
        False,
        True,
    ),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps", "A run's steps", "RunStepList", None, True, False),
    (
        "GET",
        "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}",
        "A run step",
        "RunStep",
        None,
        False,
        False,
    ),
]


def page_parameters(lists: bool) -> tuple[Schema, ...]:
    return _PAGE if lists else ()
