"""Golden tests: Gemini stream events → OpenAI `chat.completion.chunk` dicts (pure translator)."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletionChunk

from omnigate.providers.base import StreamBroken
from omnigate.providers.gemini.stream import StreamTranslator
from tests.providers.gemini.sdk_checks import check_response

HEAD = {"modelVersion": "gemini-2.5-flash", "responseId": "r1"}


def event(parts: list[dict], finish: str | None = None, usage: dict | None = None) -> dict:
    candidate: dict = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out: dict = {"candidates": [candidate], **HEAD}
    if usage:
        out["usageMetadata"] = usage
    return out


def run(events: list[dict], *, include_usage: bool = True) -> list[dict]:
    translator = StreamTranslator("gemini-2.5-flash", provider="google", include_usage=include_usage)
    chunks = []
    for e in events:
        check_response(e)
        chunks += translator.feed(e)
    chunks += translator.finish()
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert chunk["id"] == chunks[0]["id"] and chunk["object"] == "chat.completion.chunk"
    return chunks


def deltas(chunks: list[dict]) -> list[tuple[dict, str | None]]:
    return [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c["choices"]]


def test_streamed_text_ends_with_finish_and_usage() -> None:
    usage = {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    chunks = run(
        [
            event([{"text": "Hel"}], usage={"promptTokenCount": 3, "totalTokenCount": 3}),
            event([{"text": "lo"}]),
            event([{"text": ""}], "STOP", usage),
        ]
    )
    assert deltas(chunks) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
    ]
    first = chunks[0]
    assert first["id"] == "chatcmpl-r1"  # Google's responseId, as in non-streamed answers
    assert set(first) == {"id", "object", "created", "model", "choices", "usage"}
    assert first["usage"] is None and first["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_without_include_usage_there_is_no_usage_chunk() -> None:
    chunks = run([event([{"text": "hi"}], "STOP", {"promptTokenCount": 1})], include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert deltas(chunks)[-1] == ({}, "stop")


def test_streamed_tool_calls_come_whole() -> None:
    parts = [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_time", "args": {}}},
    ]
    chunks = run([event(parts, "STOP", {"promptTokenCount": 4, "candidatesTokenCount": 2})])
    role, first, second, finish = deltas(chunks)
    assert role == ({"role": "assistant", "content": ""}, None)
    call = first[0]["tool_calls"][0]
    assert call["index"] == 0 and call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}
    assert call["extra_content"] == {"google": {"thought_signature": "c2ln"}}
    assert second[0]["tool_calls"][0]["index"] == 1
    assert second[0]["tool_calls"][0]["function"] == {"name": "get_time", "arguments": "{}"}
    assert finish == ({}, "tool_calls")


def test_thoughts_stream_as_reasoning_content() -> None:
    usage = {"promptTokenCount": 2, "candidatesTokenCount": 1, "thoughtsTokenCount": 7, "totalTokenCount": 10}
    chunks = run([event([{"text": "pondering", "thought": True}]), event([{"text": "42"}], "STOP", usage)])
    assert deltas(chunks)[1:] == [
        ({"reasoning_content": "pondering"}, None),
        ({"content": "42"}, None),
        ({}, "stop"),
    ]
    assert chunks[-1]["usage"]["completion_tokens"] == 8
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 7}


def test_max_tokens_is_length() -> None:
    assert deltas(run([event([{"text": "cut"}], "MAX_TOKENS")]))[-1] == ({}, "length")


def test_blocked_prompt_in_stream() -> None:
    blocked = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 2},
    }
    chunks = run([{**blocked, **HEAD}])
    assert deltas(chunks) == [({"role": "assistant", "content": ""}, None), ({}, "content_filter")]
    assert chunks[-1]["usage"]["prompt_tokens"] == 2


def test_error_event_breaks_the_stream() -> None:
    translator = StreamTranslator("m", provider="google", include_usage=True)
    translator.feed(event([{"text": "partial"}]))
    with pytest.raises(StreamBroken) as broken:
        translator.feed({"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}})
    assert broken.value.error.status == 502
    assert "Internal error" in broken.value.error.message
    assert broken.value.error.code == "upstream_error"


def test_stream_without_finish_reason_is_truncated() -> None:
    translator = StreamTranslator("m", provider="google", include_usage=True)
    translator.feed(event([{"text": "partial"}]))
    with pytest.raises(StreamBroken) as broken:
        translator.finish()
    assert broken.value.error.code == "upstream_truncated"


def test_two_candidates_each_get_their_own_choice() -> None:
    events = [
        {
            "candidates": [
                {"content": {"parts": [{"text": "a"}], "role": "model"}, "finishReason": "STOP", "index": 0},
                {"content": {"parts": [{"text": "b"}], "role": "model"}, "finishReason": "STOP", "index": 1},
            ],
            **HEAD,
        }
    ]
    chunks = run(events)
    by_index: dict[int, str] = {}
    for c in chunks:
        for choice in c["choices"]:
            by_index[choice["index"]] = by_index.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
    assert by_index == {0: "a", 1: "b"}
    assert sum(1 for c in chunks for ch in c["choices"] if ch["finish_reason"] == "stop") == 2
