"""Golden tests: Cohere v2 stream events → OpenAI chat.completion.chunk dicts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

from omnigate.providers.base import StreamBroken
from omnigate.providers.cohere.stream import ChunkTranslator, sse_events
from tests.providers.cohere.fidelity import check_stream_event

ID = "29f14a5a-11de-4cae-9800-25e4747408ea"
START = {"type": "message-start", "id": ID, "delta": {"message": {"role": "assistant"}}}
USAGE = {
    "billed_units": {"input_tokens": 3, "output_tokens": 2},
    "tokens": {"input_tokens": 10, "output_tokens": 2},
    "cached_tokens": 4,
}


def content_start(index: int, kind: str) -> dict:
    return {
        "type": "content-start",
        "index": index,
        "delta": {"message": {"content": {"type": kind, kind: ""}}},
    }


def content_delta(index: int, kind: str, text: str) -> dict:
    return {"type": "content-delta", "index": index, "delta": {"message": {"content": {kind: text}}}}


def message_end(reason: str, usage: dict | None = USAGE) -> dict:
    delta: dict[str, Any] = {"finish_reason": reason}
    if usage is not None:
        delta["usage"] = usage
    return {"type": "message-end", "delta": delta}


def run(events: list[dict], *, include_usage: bool = True) -> list[dict]:
    translator = ChunkTranslator(
        "co", model="command-a-03-2025", created=1_700_000_000, include_usage=include_usage
    )
    chunks = []
    for event in events:
        check_stream_event(event)  # the input is what Cohere really sends
        chunks.extend(translator.feed(event, event["type"]))
    assert translator.finished
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "command-a-03-2025",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def test_streamed_text() -> None:
    chunks = run(
        [
            START,
            content_start(0, "text"),
            content_delta(0, "text", "Hel"),
            content_delta(0, "text", "lo"),
            {"type": "content-end", "index": 0},
            message_end("COMPLETE"),
        ]
    )
    assert chunks == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        {
            **chunk({}),
            "choices": [],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        },
    ]


def test_without_include_usage_there_is_no_usage_chunk() -> None:
    chunks = run([START, content_delta(0, "text", "Hi"), message_end("MAX_TOKENS")], include_usage=False)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in chunks)


def test_streamed_thinking_becomes_reasoning_content() -> None:
    chunks = run(
        [
            START,
            content_start(0, "thinking"),
            content_delta(0, "thinking", "hmm"),
            {"type": "content-end", "index": 0},
            content_start(1, "text"),
            content_delta(1, "text", "42"),
            {"type": "content-end", "index": 1},
            message_end("COMPLETE"),
        ]
    )
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[1:3] == [{"reasoning_content": "hmm"}, {"content": "42"}]


def test_streamed_tool_calls() -> None:
    def call_start(index: int, call_id: str, name: str) -> dict:
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        return {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": call}}}

    def call_delta(index: int, arguments: str) -> dict:
        delta = {"message": {"tool_calls": {"function": {"arguments": arguments}}}}
        return {"type": "tool-call-delta", "index": index, "delta": delta}

    chunks = run(
        [
            START,
            {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will check."}}},
            call_start(0, "get_weather_a1", "get_weather"),
            call_delta(0, '{"city":'),
            call_delta(0, '"Paris"}'),
            {"type": "tool-call-end", "index": 0},
            call_start(1, "get_time_b2", "get_time"),
            call_delta(1, "{}"),
            {"type": "tool-call-end", "index": 1},
            message_end("TOOL_CALL"),
        ]
    )
    assert [c["choices"][0] for c in chunks[1:-1]] == [
        {"index": 0, "delta": d, "logprobs": None, "finish_reason": f}
        for d, f in [
            ({"content": "I will check."}, None),
            (
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "get_weather_a1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                },
                None,
            ),
            ({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, None),
            ({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, None),
            (
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "get_time_b2",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        }
                    ]
                },
                None,
            ),
            ({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, None),
            ({}, "tool_calls"),
        ]
    ]


def test_citations_and_debug_events_are_skipped() -> None:
    citation = {
        "type": "citation-start",
        "index": 0,
        "delta": {"message": {"citations": {"start": 0, "end": 2, "text": "Hi", "sources": []}}},
    }
    chunks = run(
        [
            START,
            {"type": "debug", "prompt": "<raw prompt>"},
            content_delta(0, "text", "Hi"),
            citation,
            {"type": "citation-end", "index": 0},
            message_end("COMPLETE"),
        ]
    )
    assert [c["choices"][0]["delta"] for c in chunks if c["choices"]][1:] == [{"content": "Hi"}, {}]


@pytest.mark.parametrize(
    "event",
    [
        ["not", "an", "object"],
        {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "model overloaded"}},
        {"type": "error", "message": "internal error"},
        {"message": "stream failed"},
        content_delta(0, "text", 5),  # type: ignore[arg-type]
        {
            "type": "tool-call-delta",
            "index": 3,
            "delta": {"message": {"tool_calls": {"function": {"arguments": "x"}}}},
        },
        {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {"type": "function"}}}},
    ],
)
def test_malformed_or_error_events_break_the_stream(event: Any) -> None:
    translator = ChunkTranslator("co", model="m", created=0, include_usage=True)
    translator.feed(START, "message-start")
    with pytest.raises(StreamBroken) as caught:
        translator.feed(event)
    assert caught.value.error.status == 502
    assert "'co'" in caught.value.error.message


def test_an_error_event_keeps_cohere_words() -> None:
    translator = ChunkTranslator("co", model="m", created=0, include_usage=False)
    with pytest.raises(StreamBroken, match="model overloaded"):
        translator.feed({"type": "message-end", "delta": {"error": "model overloaded"}})


def test_unknown_event_types_are_skipped() -> None:
    translator = ChunkTranslator("co", model="m", created=0, include_usage=False)
    assert translator.feed({"type": "some-future-event", "delta": {}}) == []


async def test_sse_parsing_survives_any_split() -> None:
    raw = (
        b'event: message-start\r\ndata: {"type":"message-start"}\r\n\r\n'
        b": a comment\n"
        b'event: content-delta\ndata: {"type":"content-delta",\n'
        b'data: "index":0}\n\n'
        b"data: [DONE]"
    )

    async def split(size: int) -> AsyncIterator[bytes]:
        for i in range(0, len(raw), size):
            yield raw[i : i + size]

    for size in (1, 3, 7, len(raw)):
        assert [e async for e in sse_events(split(size))] == [
            ("message-start", b'{"type":"message-start"}'),
            ("content-delta", b'{"type":"content-delta",\n"index":0}'),
            ("", b"[DONE]"),
        ]
