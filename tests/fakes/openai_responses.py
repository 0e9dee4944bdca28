"""The fake upstream's ``POST /v1/responses``: OpenAI's Responses API on the wire.

It answers as the chat endpoint does (see openai_upstream: the echo of the last user text, the
tool-call rule, ``CHUNK_CHARS`` per streamed delta, the same token counts), read from Responses
input items, and adds what only this API has:

* a ``reasoning`` item first in the output when the request sets ``reasoning.effort``; it
  carries ``encrypted_content`` when ``include`` asks for ``reasoning.encrypted_content``;
* ``store: false`` is honoured as OpenAI honours it: nothing is kept, so an input item that
  carries an id (other than a reasoning item with its encrypted content) and any
  ``previous_response_id`` answer 404;
* queued failures ``"failed_event"`` (the stream ends with ``response.failed``) and
  ``"error_event"`` (it ends with an ``error`` event).

Requests are checked against the SDK's ``ResponseCreateParams``, answers against ``Response``
and every stream event against ``ResponseStreamEvent``; a mismatch is a FidelityError.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from typing import Any, Final

import orjson
from aiohttp import web
from openai.types.responses import Response, ResponseStreamEvent, response_create_params
from pydantic import TypeAdapter, ValidationError

from tests.fakes.openai_upstream import (
    TOOL_ARGUMENTS,
    FakeOpenAIUpstream,
    _checked,
    _pieces,
    _Plan,
    _UpstreamError,
    send_json,
)
from tests.fakes.sdk_fidelity import FidelityError, checked

__all__ = ["ENCRYPTED_REASONING", "answer_responses", "check_event", "check_request"]

ENCRYPTED_REASONING: Final = "gAAAA-fake-encrypted-reasoning"
"""The ``encrypted_content`` of every reasoning item the fake returns when asked for it."""

_REQUEST_TYPES = {
    False: TypeAdapter(response_create_params.ResponseCreateParamsNonStreaming),
    True: TypeAdapter(response_create_params.ResponseCreateParamsStreaming),
}
_EVENT_TYPE: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
_SPEC_ONLY_FIELDS: Final = {"response.function_call_arguments.done": ("name",)}


def check_request(body: dict[str, Any]) -> None:
    """Raise FidelityError unless ``body`` is a ``ResponseCreateParams`` with no unknown keys.

    The SDK's TypedDicts drop keys they do not know, so the validated copy must equal the body.
    One allowance: function tools may leave out ``strict`` and ``parameters``, which the SDK
    types mark required but OpenAI's API defaults (clients send tools that way).
    """
    expected = copy.deepcopy(body)
    for tool in expected.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            tool.setdefault("strict", None)
            tool.setdefault("parameters", None)
    adapter = _REQUEST_TYPES[body.get("stream") is True]
    try:
        validated = _materialise(adapter.validate_python(expected, strict=True))
    except ValidationError as exc:
        raise FidelityError(f"ResponseCreateParams rejected the request: {exc}") from exc
    if validated != expected:
        raise FidelityError(
            f"ResponseCreateParams dropped or changed fields:\nsent {expected}\nread {validated}"
        )


def _materialise(value: object) -> object:
    """The validated value with pydantic's lazy iterators (the SDK types many lists as Iterable)
    consumed, which is when their items are validated."""
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | Iterator):
        return [_materialise(v) for v in value]
    return value


def check_event(event: dict[str, Any]) -> dict[str, Any]:
    """Validate one stream event against the SDK's event union and return it unchanged.

    Fields in `_SPEC_ONLY_FIELDS` are left out of the check: OpenAI's published spec requires
    them, the SDK's models do not declare them (yet), and the wire follows the spec.
    """
    ignored = _SPEC_ONLY_FIELDS.get(event.get("type"), ())
    checked({k: v for k, v in event.items() if k not in ignored}, _EVENT_TYPE, event["type"])
    return event


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    return " ".join(
        part["text"]
        for part in content or ()
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
    )


def _chat_view(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the chat endpoint's plan reads requests (messages, function tools)."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    for item in [{"role": "user", "content": items}] if isinstance(items, str) else items or ():
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item["role"], "content": _text(item.get("content"))})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "content": item.get("output")})
    view: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    tools = [t for t in body.get("tools") or () if t.get("type") == "function"]
    if tools:
        view["tools"] = [{"type": "function", "function": {"name": t["name"]}} for t in tools]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        view["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice is not None:
        view["tool_choice"] = choice
    return view


def _refuse_what_was_not_stored(body: dict[str, Any]) -> None:
    if body.get("store", True):
        return
    if body.get("previous_response_id"):
        raise _UpstreamError(
            404,
            f"Previous response with id '{body['previous_response_id']}' not found.",
            param="previous_response_id",
        )
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if "id" in item and not (item.get("type") == "reasoning" and item.get("encrypted_content")):
            raise _UpstreamError(
                404,
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` is set "
                "to false. Try again with `store` set to true, or remove this item from your input.",
                param="input",
            )


class _Answer:
    """One Response the fake will give: its output items, whole, and the object around them."""

    def __init__(self, body: dict[str, Any], plan: _Plan) -> None:
        self.body = body
        self.plan = plan
        self.response_id = f"resp_{uuid.uuid4().hex}"
        self.created_at = int(time.time())
        self.output: list[dict[str, Any]] = []
        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict) and reasoning.get("effort"):
            item: dict[str, Any] = {"id": f"rs_{uuid.uuid4().hex}", "type": "reasoning", "summary": []}
            if "reasoning.encrypted_content" in (body.get("include") or ()):
                item["encrypted_content"] = ENCRYPTED_REASONING
            self.output.append(item)
        if plan.tool_name:
            self.output.append(
                {
                    "id": f"fc_{uuid.uuid4().hex}",
                    "type": "function_call",
                    "status": "completed",
                    "call_id": f"call_{uuid.uuid4().hex[:24]}",
                    "name": plan.tool_name,
                    "arguments": TOOL_ARGUMENTS,
                }
            )
        else:
            part = {"type": "output_text", "text": plan.text, "annotations": [], "logprobs": []}
            self.output.append(
                {
                    "id": f"msg_{uuid.uuid4().hex}",
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [part],
                }
            )

    def response(self, status: str = "completed") -> dict[str, Any]:
        body = self.body
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        out: dict[str, Any] = {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": self.plan.model,
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": reasoning.get("effort"), "summary": None},
            "temperature": float(body.get("temperature", 1.0)),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [{"strict": True, "parameters": None, **tool} for tool in body.get("tools") or ()],
            "top_p": float(body.get("top_p", 1.0)),
            "truncation": body.get("truncation", "disabled"),
        }
        if status == "completed":
            out["output"] = copy.deepcopy(self.output)
            prompt, completion = self.plan.prompt_tokens, self.plan.completion_tokens
            out["usage"] = {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            }
        elif status == "failed":
            out["error"] = {"code": "server_error", "message": "fake upstream: the model failed"}
        return out

    def events(self, failure: str | None) -> list[dict[str, Any]]:
        events = [
            {"type": "response.created", "response": self.response("in_progress")},
            {"type": "response.in_progress", "response": self.response("in_progress")},
        ]
        if failure == "failed_event":
            events.append({"type": "response.failed", "response": self.response("failed")})
        elif failure == "error_event":
            events.append(
                {
                    "type": "error",
                    "code": "server_error",
                    "message": "fake upstream: stream error",
                    "param": None,
                }
            )
        else:
            for index, item in enumerate(self.output):
                events += self._item_events(index, item)
            events.append({"type": "response.completed", "response": self.response()})
        for number, event in enumerate(events):
            event["sequence_number"] = number
        return events

    def _item_events(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "reasoning":
            return [
                {"type": "response.output_item.added", "output_index": index, "item": item},
                {"type": "response.output_item.done", "output_index": index, "item": item},
            ]
        if item["type"] == "function_call":
            opened = {**item, "status": "in_progress", "arguments": ""}
            return [
                {"type": "response.output_item.added", "output_index": index, "item": opened},
                *(
                    {"type": "response.function_call_arguments.delta", **where, "delta": piece}
                    for piece in _pieces(item["arguments"])
                ),
                {
                    "type": "response.function_call_arguments.done",
                    **where,
                    "name": item["name"],
                    "arguments": item["arguments"],
                },
                {"type": "response.output_item.done", "output_index": index, "item": item},
            ]
        text = item["content"][0]["text"]
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        at = {**where, "content_index": 0}
        return [
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress", "content": []},
            },
            {"type": "response.content_part.added", **at, "part": empty},
            *(
                {"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}
                for piece in _pieces(text)
            ),
            {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **at, "part": item["content"][0]},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]


async def answer_responses(
    fake: FakeOpenAIUpstream, request: web.Request, body: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    if fake.strict:
        check_request(body)
    _refuse_what_was_not_stored(body)
    answer = _Answer(body, _Plan(_chat_view(body)))
    if body.get("stream") is True:
        failure = action if action in ("failed_event", "error_event") else None
        events = answer.events(failure)
        if fake.strict:
            for event in events:
                check_event(event)
        encoded = [b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events]
        return await fake.send_stream(request, encoded, midstream=action == "midstream")
    response = answer.response()
    if fake.strict:
        _checked(response, Response)
    return await send_json(request, response, action)
