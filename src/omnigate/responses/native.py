"""Responses requests passed through to upstreams that speak the Responses API themselves.

The gateway keeps what makes a Response stateful (ids, storage, previous_response_id), so the
upstream gets a self-contained request: the earlier turns written out in `input`, `store: false`
(nothing is left behind upstream) and its own model name. Its answer comes back under the
gateway's response id and the catalogue model; output items, usage details and every stream
event are the upstream's own.
"""

from __future__ import annotations

import math
from typing import Any

from omnigate.providers.base import RESPONSE_TERMINAL_EVENTS
from omnigate.providers.redact import scrub
from omnigate.responses.stream import mark_failed
from omnigate.responses.translate import base_response, chat_usage, output_text

# Responses fields and the chat fields they become on the translated road. Where a model's rules
# drop the chat field, the native road drops the Responses field too, so a model takes the same
# parameters whichever road serves it.
_CHAT_COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "top_p": ("top_p",),
    "max_output_tokens": ("max_tokens", "max_completion_tokens"),
    "tools": ("tools",),
    "tool_choice": ("tool_choice",),
    "parallel_tool_calls": ("parallel_tool_calls",),
    "reasoning": ("reasoning_effort",),
    "user": ("user",),
}
# Fields the gateway answers for itself; the rest of the request goes upstream as it came.
_GATEWAY_FIELDS = frozenset({"model", "input", "previous_response_id", "store", "stream"})


def upstream_body(
    request: dict[str, Any],
    items: list[dict[str, Any]],
    *,
    upstream_model: str,
    known_chat_params: frozenset[str] | None,
    stream: bool,
) -> dict[str, Any]:
    """The body for the upstream's POST /responses; `items` are the earlier turns' items and then
    this request's, normalised (responses/items.py)."""
    body = {k: v for k, v in request.items() if k not in _GATEWAY_FIELDS}
    if known_chat_params is not None:
        for field, chat_names in _CHAT_COUNTERPARTS.items():
            if field in body and not any(name in known_chat_params for name in chat_names):
                del body[field]
        text = body.get("text")
        if isinstance(text, dict) and "format" in text and "response_format" not in known_chat_params:
            body["text"] = {k: v for k, v in text.items() if k != "format"}
    body["model"] = upstream_model
    body["input"] = upstream_input(items)
    body["store"] = False
    if stream:
        body["stream"] = True
    return body


def upstream_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as input for an upstream that stores nothing.

    Ids are left out: an upstream with `store: false` looks up every item id it is given and
    answers 404 for its own earlier items (and knows nothing of the gateway's). For the same
    reason reasoning items go back only when they carry their encrypted content.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item["type"]
        if kind == "message" and item["role"] == "assistant":
            # An assistant turn as plain text: every upstream accepts that form without an id.
            text = "".join(p.get("text") or p.get("refusal") or "" for p in item["content"])
            out.append({"role": "assistant", "content": text})
        elif kind == "message":
            out.append({"type": "message", "role": item["role"], "content": item["content"]})
        elif kind == "function_call":
            out.append({k: item[k] for k in ("type", "call_id", "name", "arguments")})
        elif kind == "function_call_output":
            out.append({"type": kind, "call_id": item["call_id"], "output": item["output"]})
        elif kind == "reasoning" and item.get("encrypted_content"):
            out.append(
                {
                    "type": kind,
                    "id": item["id"],
                    "summary": item.get("summary") or [],
                    "encrypted_content": item["encrypted_content"],
                }
            )
    return out


def adopt(response: dict[str, Any], request: dict[str, Any], *, response_id: str, model: str) -> dict:
    """The upstream's Response as the gateway's, changed in place: the gateway's id and model, and
    the storage fields as the client set them (upstream saw `store: false` and no previous id),
    and the error of a failed one scrubbed (providers/redact.py)."""
    response["id"] = response_id
    response["model"] = model
    response["store"] = request.get("store") is not False
    response["previous_response_id"] = request.get("previous_response_id")
    error = response.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        # A failed Response carries the upstream's words, which may quote the gateway's key or hosts.
        error["message"] = scrub(error["message"])
    return response


class NativeRelay:
    """An upstream's Responses stream events on their way to the client.

    Events carrying the Response get the gateway's id and model; sequence numbers are counted here,
    so a response.failed the gateway adds when the upstream breaks off continues the count. Offers
    what `EventTranslator` offers the route (start, feed, finish, failed, response), plus the
    usage and completion estimate a `StreamTally` offers for billing.
    """

    def __init__(self, request: dict[str, Any], *, response_id: str, model: str, created_at: int) -> None:
        self.request = request
        self.response_id = response_id
        self.model = model
        # Until the upstream sends its own: what response.failed carries if it never does.
        self.response = base_response(request, response_id=response_id, model=model, created_at=created_at)
        self.sequence = 0
        self.usage: dict[str, Any] | None = None
        self.usage_chunk: dict[str, Any] | None = None  # upstreams that speak Responses bill in tokens
        self.pieces = 0
        self.chars = 0

    def start(self) -> list[dict[str, Any]]:
        return []  # the upstream sends response.created and response.in_progress itself

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        event["sequence_number"] = self.sequence
        self.sequence += 1
        snapshot = event.get("response")
        if isinstance(snapshot, dict):
            self.response = adopt(snapshot, self.request, response_id=self.response_id, model=self.model)
            if event.get("type") in RESPONSE_TERMINAL_EVENTS:
                snapshot["output_text"] = output_text(snapshot.get("output") or [])
                self.usage = chat_usage(snapshot.get("usage"))
        delta = event.get("delta")
        if isinstance(delta, str) and delta:
            self.pieces += 1
            self.chars += len(delta)
        return [event]

    def finish(self, usage: dict[str, Any] | None) -> list[dict[str, Any]]:
        return []  # the upstream's terminal event has been relayed already

    def failed(self, status: int, message: str) -> list[dict[str, Any]]:
        mark_failed(self.response, status, message)
        event = {"type": "response.failed", "sequence_number": self.sequence, "response": self.response}
        self.sequence += 1
        return [event]

    def completion_estimate(self) -> int:
        # Only when the upstream never reported usage: about one token per delta, or four chars.
        return max(self.pieces, math.ceil(self.chars / 4))
