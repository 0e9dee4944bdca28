"""Golden translations of Anthropic stream events into OpenAI chunks, and the SSE reader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

from omnigate.providers.anthropic.stream import StreamTranslator, sse_payloads
from omnigate.providers.base import StreamBroken
from tests.providers.anthropic.sdk_check import checked_event

CREATED = 1_700_000_000
START = {
    "type": "message_start",
    "message": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku-20240307",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 5,
            "output_tokens": 1,
        },
    },
}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, kind: str = "text_delta", **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": kind, **fields}}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(stop_reason: str, output_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def run(events: list[dict[str, Any]], *, include_usage: bool = True) -> list[dict[str, Any]]:
    translator = StreamTranslator("claude", include_usage=include_usage, created=CREATED)
    chunks = []
    for event in events:
        checked_event(event)  # the input is what Anthropic really sends
        chunks.extend(translator.feed(event))
    assert translator.finished
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)  # the openai SDK reads every chunk
    return chunks


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "claude-3-haiku-20240307",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def test_streamed_text() -> None:
    events = [
        START,
        block_start(0, {"type": "text", "text": ""}),
        {"type": "ping"},
        delta(0, text="Hel"),
        delta(0, text="lo!"),
        stop(0),
        *end("end_turn", 3),
    ]
    usage = {
        "prompt_tokens": 30,
        "completion_tokens": 3,
        "total_tokens": 33,
        "prompt_tokens_details": {"cached_tokens": 5},
    }
    assert run(events) == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo!"}),
        chunk({}, "stop"),
        {**chunk({}), "choices": [], "usage": usage},
    ]


def test_without_include_usage_no_usage_anywhere() -> None:
    chunks = run(
        [
            START,
            block_start(0, {"type": "text", "text": ""}),
            delta(0, text="Hi"),
            stop(0),
            *end("max_tokens", 1),
        ],
        include_usage=False,
    )
    assert all("usage" not in c for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, "length"]


def test_streamed_tool_calls_are_numbered_by_call() -> None:
    events = [
        START,
        block_start(0, {"type": "text", "text": ""}),
        delta(0, text="Checking."),
        stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        delta(1, kind="input_json_delta", partial_json=""),
        delta(1, kind="input_json_delta", partial_json='{"city": '),
        delta(1, kind="input_json_delta", partial_json='"Paris"}'),
        stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}),
        delta(2, kind="input_json_delta", partial_json="{}"),
        stop(2),
        *end("tool_use", 20),
    ]
    chunks = run(events)
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "Checking."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    arguments = "".join(
        call["function"]["arguments"]
        for c in chunks
        for choice in c["choices"]
        for call in choice["delta"].get("tool_calls", ())
        if call["index"] == 0
    )
    assert json.loads(arguments) == {"city": "Paris"}


def test_streamed_thinking_becomes_reasoning_content() -> None:
    events = [
        START,
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, kind="thinking_delta", thinking="Let me think"),
        delta(0, kind="signature_delta", signature="c2ln"),
        stop(0),
        block_start(1, {"type": "text", "text": ""}),
        delta(1, text="42"),
        stop(1),
        *end("end_turn", 9),
    ]
    assert [c["choices"][0]["delta"] for c in run(events)[:-1]] == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Let me think"},
        {"content": "42"},
        {},
    ]


def test_later_usage_in_message_delta_wins() -> None:
    events = [START, *end("end_turn", 7)]
    events[1] = {
        **events[1],
        "usage": {"output_tokens": 7, "input_tokens": 30, "cache_read_input_tokens": None},
    }
    usage = run(events)[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (35, 7)


def test_unknown_events_are_ignored() -> None:
    translator = StreamTranslator("claude", include_usage=True, created=CREATED)
    assert translator.feed({"type": "some_future_event", "data": 1}) == []
    assert (
        translator.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta"}})
        == []
    )


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        ("overloaded_error", 502, "failed mid-stream: Overloaded"),
        ("api_error", 502, "failed mid-stream: Overloaded"),
        ("rate_limit_error", 429, "rate limited the gateway (429)"),
        ("invalid_request_error", 400, "Overloaded"),
    ],
)
def test_error_event_breaks_the_stream(kind: str, status: int, words: str) -> None:
    translator = StreamTranslator("claude", include_usage=True, created=CREATED)
    translator.feed(START)
    error = checked_event({"type": "error", "error": {"type": kind, "message": "Overloaded"}})
    with pytest.raises(StreamBroken) as caught:
        translator.feed(error)
    assert caught.value.error.status == status
    assert words in caught.value.error.message


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_sse_payloads_reassembles_split_events() -> None:
    raw = (
        b'event: message_start\r\ndata: {"a":\r\n\r\n'
        b"event: ping\ndata: {}\n\n"
        b"data: line one\ndata: line two\n\n"
        b"event: content_block_delta\ndata: cut off"
    )
    splits = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    found = [payload async for batch in sse_payloads(pieces(*splits)) for payload in batch]
    assert found == [b'{"a":', b"{}", b"line one\nline two"]


async def test_sse_payloads_groups_events_of_one_read() -> None:
    batches = [batch async for batch in sse_payloads(pieces(b"data: 1\n\ndata: 2\n\n", b"data: 3\n\n"))]
    assert batches == [[b"1", b"2"], [b"3"]]
