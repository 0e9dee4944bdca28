"""The Responses stream events built from chat chunks, each checked against the SDK's union."""

from __future__ import annotations

import orjson
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from omnigate.responses.stream import EventTranslator, encode
from omnigate.responses.translate import base_response

ADAPTER: TypeAdapter = TypeAdapter(ResponseStreamEvent)
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def translator(request: dict | None = None) -> EventTranslator:
    return EventTranslator(
        base_response(request or {"input": "x"}, response_id="resp_1", model="m", created_at=1)
    )


def chunk(delta: dict, finish_reason: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def run(t: EventTranslator, chunks: list[dict], usage: dict | None = USAGE) -> list[dict]:
    events = t.start()
    for c in chunks:
        events += t.feed(c)
    events += t.finish(usage)
    for event in events:
        ADAPTER.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def test_text_stream_event_sequence() -> None:
    events = run(
        translator(), [chunk({"role": "assistant", "content": "hel"}), chunk({"content": "lo"}, "stop")]
    )
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    assert events[6]["text"] == "hello"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output_text"] == "hello"
    assert final["usage"]["input_tokens"] == 4
    item_id = events[2]["item"]["id"]
    assert all(e["item_id"] == item_id for e in events[3:8])


def test_function_call_stream() -> None:
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    events = run(
        translator(),
        [
            chunk({"role": "assistant", "tool_calls": [call]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ':"Paris"}'}}]}, "tool_calls"),
        ],
    )
    kinds = [e["type"] for e in events]
    assert kinds[2:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[5]["arguments"] == '{"city":"Paris"}'
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["call_id"] == "call_1" and item["name"] == "get_weather"


def test_text_then_tool_call_get_separate_output_indexes() -> None:
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    events = run(translator(), [chunk({"content": "thinking"}), chunk({"tool_calls": [call]}, "tool_calls")])
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert added == [0, 1]


def test_length_ends_with_response_incomplete() -> None:
    events = run(translator(), [chunk({"content": "cut"}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_failure_mid_stream_is_response_failed() -> None:
    t = translator()
    events = t.start() + t.feed(chunk({"content": "par"})) + t.failed(502, "upstream broke")
    for event in events:
        ADAPTER.validate_python(event)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": "upstream broke"}


def test_encode_names_each_event() -> None:
    events = translator().start()
    wire = encode(events).decode()
    blocks = [b for b in wire.split("\n\n") if b]
    assert len(blocks) == 2
    first_line, data_line = blocks[0].split("\n")
    assert first_line == "event: response.created"
    assert orjson.loads(data_line.removeprefix("data: "))["type"] == "response.created"
