"""Chat-completion chunks as the Responses API's typed stream events.

One translator per stream: it opens output items as the chunks first mention them (text, then
each tool call by its index), sends their deltas, and closes them all when the stream ends.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from omnigate.responses.items import new_id
from omnigate.responses.translate import finish, function_item, message_item, output_text_part


class EventTranslator:
    def __init__(self, response: dict[str, Any]) -> None:
        # `response` is the in-progress Response (base_response): every event that carries the
        # whole object gets a copy, so later changes do not leak into events already built.
        self.response = response
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.text_index: int | None = None
        self.calls: dict[int, int] = {}  # chat tool-call index -> output index
        self.finish_reason: str | None = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        return [
            self._event("response.created", response=copy.deepcopy(self.response)),
            self._event("response.in_progress", response=copy.deepcopy(self.response)),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # a Response has one answer; extra choices (n > 1) are dropped
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def _text(self, text: str) -> list[dict[str, Any]]:
        events = []
        if self.text_index is None:
            self.text_index = len(self.output)
            item = message_item(new_id("msg"), "")
            item["status"], item["content"] = "in_progress", []
            self.output.append(item)
            events.append(self._added(self.text_index))
            item["content"] = [output_text_part("")]
            events.append(self._part("response.content_part.added", self.text_index))
        item = self.output[self.text_index]
        item["content"][0]["text"] += text
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=item["id"],
                output_index=self.text_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _call(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        function = call.get("function") or {}
        index = call.get("index", 0)
        if index not in self.calls:
            self.calls[index] = len(self.output)
            item = function_item(
                new_id("fc"), call.get("id") or new_id("call"), function.get("name") or "", ""
            )
            item["status"] = "in_progress"
            self.output.append(item)
            events.append(self._added(self.calls[index]))
        position = self.calls[index]
        item = self.output[position]
        arguments = function.get("arguments") or ""
        if arguments:
            item["arguments"] += arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=position,
                    delta=arguments,
                )
            )
        return events

    def _added(self, position: int) -> dict[str, Any]:
        item = copy.deepcopy(self.output[position])
        return self._event("response.output_item.added", output_index=position, item=item)

    def _part(self, kind: str, position: int) -> dict[str, Any]:
        item = self.output[position]
        return self._event(
            kind, item_id=item["id"], output_index=position, content_index=0, part=dict(item["content"][0])
        )

    def finish(self, usage: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Close every open item, then the response.completed (or .incomplete) event."""
        incomplete = self.finish_reason == "length"
        events = []
        for position, item in enumerate(self.output):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                events.append(
                    self._event(
                        "response.output_text.done",
                        item_id=item["id"],
                        output_index=position,
                        content_index=0,
                        text=text,
                        logprobs=[],
                    )
                )
                events.append(self._part("response.content_part.done", position))
            else:
                events.append(
                    self._event(
                        "response.function_call_arguments.done",
                        item_id=item["id"],
                        output_index=position,
                        name=item["name"],
                        arguments=item["arguments"],
                    )
                )
            item["status"] = "incomplete" if incomplete and item["type"] == "message" else "completed"
            events.append(
                self._event("response.output_item.done", output_index=position, item=copy.deepcopy(item))
            )
        finish(self.response, self.output, usage=usage, incomplete=incomplete)
        kind = "response.incomplete" if incomplete else "response.completed"
        events.append(self._event(kind, response=copy.deepcopy(self.response)))
        return events

    def failed(self, status: int, message: str) -> list[dict[str, Any]]:
        self.response["output"] = self.output
        mark_failed(self.response, status, message)
        return [self._event("response.failed", response=copy.deepcopy(self.response))]


def mark_failed(response: dict[str, Any], status: int, message: str) -> dict[str, Any]:
    """The Response as a response.failed event carries it, for a stream the gateway had to end."""
    response["status"] = "failed"
    code = "rate_limit_exceeded" if status == 429 else "server_error"
    response["error"] = {"code": code, "message": message}
    return response


def encode(events: list[dict[str, Any]]) -> bytes:
    """Events as OpenAI sends them: an `event:` line naming the type, then the JSON."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
