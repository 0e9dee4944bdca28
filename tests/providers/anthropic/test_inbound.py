"""Inbound Anthropic translation: Messages requests → OpenAI chat bodies, and OpenAI answers
(whole and streamed) → Anthropic messages and events, checked against the anthropic SDK's types."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from omnigate.providers.anthropic.inbound import InboundError, to_chat_body, to_message
from omnigate.providers.anthropic.inbound_stream import EventTranslator, encode, error_event
from tests.providers.anthropic.sdk_check import checked_error, checked_event, checked_message

PNG = "iVBORw0KGgo="
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
OPENAI_IMAGE = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}
FUNCTION = {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}
OPENAI_WEATHER = {"type": "function", "function": FUNCTION}
NO_PARAMETERS = {"type": "object", "properties": {}}
SERIAL = {"parallel_tool_calls": False}
NAMED_CHOICE = {"type": "function", "function": {"name": "get_weather"}}
HI = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def openai_call(call_id: str, name: str, arguments: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def request(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "max_tokens": 100, "messages": HI, **fields}


# ------------------------------------------------------------------------------ requests


def test_plain_text() -> None:
    assert to_chat_body(request()) == {"model": "gpt-4o", "messages": HI, "max_tokens": 100}
    # A tool_choice without tools means nothing, and OpenAI refuses it.
    assert "tool_choice" not in to_chat_body(request(tool_choice={"type": "any"}))


def test_system_blocks_and_sampling_parameters() -> None:
    body = request(
        system=[
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Answer in French."},
        ],
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END", ""],
        stream=True,
        metadata={"user_id": "user-7"},
        service_tier="auto",
    )
    assert to_chat_body(request(system="Brief."))["messages"][0] == {"role": "system", "content": "Brief."}
    assert to_chat_body(body) == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "You are terse.\n\nAnswer in French."}, *HI],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END"],
        "stream": True,
        "user": "user-7",
    }


def test_image_input_base64_and_url() -> None:
    url = "https://example.com/cat.jpg"
    content = [IMAGE, {"type": "image", "source": {"type": "url", "url": url}}, text("What are these?")]
    body = to_chat_body(request(messages=[{"role": "user", "content": content}]))
    parts = [OPENAI_IMAGE, {"type": "image_url", "image_url": {"url": url}}, text("What are these?")]
    assert body["messages"] == [{"role": "user", "content": parts}]


def test_documents() -> None:
    content = [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
    ]
    parts = to_chat_body(request(messages=[{"role": "user", "content": content}]))["messages"][0]["content"]
    pdf = {"file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"}
    assert parts == [{"type": "file", "file": pdf}, text("notes")]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        ({"type": "tool", "name": "get_weather"}, {"tool_choice": NAMED_CHOICE}),
        ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", **SERIAL}),
        (None, {}),
    ],
)
def test_tools_and_tool_choice(choice: dict | None, expected: dict) -> None:
    fields: dict[str, Any] = {"tools": [WEATHER, {"name": "get_time"}]}
    if choice is not None:
        fields["tool_choice"] = choice
    body = to_chat_body(request(**fields))
    no_params = {"type": "function", "function": {"name": "get_time", "parameters": NO_PARAMETERS}}
    assert body["tools"] == [OPENAI_WEATHER, no_params]
    assert {k: body[k] for k in ("tool_choice", "parallel_tool_calls") if k in body} == expected


def test_tool_use_and_tool_results() -> None:
    failed = {
        "type": "tool_result",
        "tool_use_id": "toolu_2",
        "is_error": True,
        "content": [text("x"), IMAGE],
    }
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two calls.", "signature": "sig"},
                text("Checking."),
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                failed,
                text("Summarise."),
            ],
        },
    ]
    body = to_chat_body(request(messages=messages, tools=[WEATHER]))
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                openai_call("toolu_1", "get_weather", '{"city":"Paris"}'),
                openai_call("toolu_2", "get_weather", '{"city":"Rome"}'),
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: x"},
        # Images a tool returned cannot go in a tool message: they follow as user input.
        {"role": "user", "content": [OPENAI_IMAGE, text("Summarise.")]},
    ]


def test_tool_calls_without_text_have_null_content() -> None:
    calls = [{"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {}}]
    history = [{"role": "user", "content": "t?"}, {"role": "assistant", "content": calls}]
    body = to_chat_body(request(messages=history))
    assert body["messages"][1]["content"] is None
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (2048, "low"), (2049, "medium"), (8192, "medium"), (8193, "high")]
)
def test_thinking_budget_sets_reasoning_effort(budget: int, effort: str) -> None:
    body = to_chat_body(request(max_tokens=20000, thinking={"type": "enabled", "budget_tokens": budget}))
    assert body["reasoning_effort"] == effort


def test_disabled_thinking_and_output_config() -> None:
    assert "reasoning_effort" not in to_chat_body(request(thinking={"type": "disabled"}))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    config = {"effort": "max", "format": {"type": "json_schema", "schema": schema}}
    body = to_chat_body(request(output_config=config))
    assert body["reasoning_effort"] == "high"
    named = {"name": "output", "schema": schema}
    assert body["response_format"] == {"type": "json_schema", "json_schema": named}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{**IMAGE, "source": {"type": "file"}}]}]}, "messages"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        ({"system": 5}, "system"),
    ],
)
def test_refused_requests(fields: dict, param: str) -> None:
    body = {k: v for k, v in request(**fields).items() if v is not None}
    with pytest.raises(InboundError) as caught:
        to_chat_body(body)
    assert caught.value.param == param


# ----------------------------------------------------------------------------- responses


def completion(message: dict, finish: str = "stop", **choice: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish, **choice}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 2}},
    }


def test_text_answer() -> None:
    message = to_message(completion({"role": "assistant", "content": "Hello!"}), model="gpt-4o")
    assert checked_message(message) == {
        "id": "msg_abc123",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2},
    }


def test_tool_call_answer_with_thinking() -> None:
    reply = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Need the weather.",
        "tool_calls": [openai_call("call_1", "get_weather", '{"city": "Paris"}')],
    }
    message = checked_message(to_message(completion(reply, "tool_calls"), model="gpt-4o"))
    assert message["content"] == [
        {"type": "thinking", "thinking": "Need the weather.", "signature": ""},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert message["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("finish", "extra", "reason", "sequence"),
    [
        ("length", {}, "max_tokens", None),
        ("content_filter", {}, "refusal", None),
        ("stop", {"stop_reason": "END"}, "stop_sequence", "END"),
        ("stop", {"stop_reason": 128001}, "end_turn", None),
    ],
)
def test_stop_reasons(finish: str, extra: dict, reason: str, sequence: str | None) -> None:
    answer = completion({"role": "assistant", "content": "x"}, finish, **extra)
    message = to_message(answer, model="gpt-4o", stop_sequences=("END",))
    assert (message["stop_reason"], message["stop_sequence"]) == (reason, sequence)


def test_broken_tool_arguments_become_an_empty_input() -> None:
    reply = {"role": "assistant", "content": None, "tool_calls": [openai_call("c", "f", "{not json")]}
    message = checked_message(to_message(completion(reply, "stop"), model="m"))
    assert message["content"][0]["input"] == {}
    # A backend that finished a tool call with "stop" still reports tool use.
    assert message["stop_reason"] == "tool_use"


# -------------------------------------------------------------------------------- stream


def chunk(delta: dict | None = None, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    choices = [] if delta is None else [choice]
    return {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "model": "m", "choices": choices}


def run_stream(chunks: list[dict], **kwargs: Any) -> list[dict[str, Any]]:
    translator = EventTranslator(model="gpt-4o", **kwargs)
    events = [event for c in chunks for event in translator.feed(c)] + translator.finish(USAGE)
    return [checked_event(e) for e in events]


def accumulated(events: list[dict[str, Any]]) -> Any:
    """What the anthropic SDK's stream helper builds from these events."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    return snapshot


def test_text_stream_events() -> None:
    events = run_stream(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            {**chunk(), "usage": USAGE},
        ]
    )
    assert events == [
        {
            "type": "message_start",
            "message": {
                "id": "msg_s1",
                "type": "message",
                "role": "assistant",
                "model": "gpt-4o",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0},
        },
        {"type": "message_stop"},
    ]
    final = accumulated(events)
    assert final.content[0].text == "Hello"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 3)


def test_tool_call_stream_events() -> None:
    first = openai_call("call_1", "get_weather", "", index=0)
    events = run_stream(
        [
            chunk({"role": "assistant", "content": None, "tool_calls": [first]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        *[("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0)],
        *[("content_block_stop", 0), ("message_delta", None), ("message_stop", None)],
    ]
    tool_use = {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    assert events[1]["content_block"] == tool_use
    assert events[2]["delta"] == {"type": "input_json_delta", "partial_json": '{"city"'}
    assert events[5]["delta"]["stop_reason"] == "tool_use"
    assert accumulated(events).content[0].input == {"city": "Paris"}


def test_thinking_then_text_then_two_tool_calls() -> None:
    calls = [openai_call("c0", "a", "{}", index=0), openai_call("c1", "b", '{"x": 1}', index=1)]
    events = run_stream(
        [
            chunk({"reasoning_content": "Hmm."}),
            chunk({"content": "Calling."}),
            chunk({"tool_calls": calls}),
            chunk({}, "tool_calls"),
        ]
    )
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use", "tool_use"]
    assert [e["index"] for e in events if e["type"] == "content_block_stop"] == [0, 1, 2, 3]
    final = accumulated(events)
    assert final.content[0].thinking == "Hmm."
    assert [b.input for b in final.content[2:]] == [{}, {"x": 1}]


def test_stop_sequence_named_by_the_backend() -> None:
    last = chunk({}, "stop")
    last["choices"][0]["stop_reason"] = "END"
    events = run_stream([chunk({"content": "x"}), last], stop_sequences=("END",))
    assert events[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_empty_stream_still_starts_and_stops() -> None:
    assert [e["type"] for e in run_stream([])] == ["message_start", "message_delta", "message_stop"]


def test_error_event_and_wire_format() -> None:
    event = checked_error(error_event(502, "upstream broke"))
    assert event == {"type": "error", "error": {"type": "api_error", "message": "upstream broke"}}
    assert error_event(529, "busy")["error"]["type"] == "overloaded_error"
    wire = encode([{"type": "message_stop"}, event])
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert wire == stop + b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
