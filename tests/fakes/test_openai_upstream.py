"""The fake upstream, driven by the official OpenAI SDK.

If the real client accepts everything the fake says, gateway end-to-end tests built
on the fake exercise the same wire protocol a real provider speaks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

# Relative import: works whether or not tests/ itself is a package.
from .openai_upstream import CHUNK_CHARS, FakeOpenAIUpstream, FidelityError, _checked

pytestmark = pytest.mark.asyncio

MESSAGES: list[Any] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello there"},
]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]


async def _collect(stream: AsyncIterator[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in stream]


async def test_non_stream_text(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(model="some/model", messages=MESSAGES, temperature=0.5)

    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == "some/model"
    assert isinstance(answer.created, int)
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop"
    assert answer.usage is not None
    text = "echo: hello there"
    assert answer.usage.prompt_tokens == 4  # "be brief" + "hello there"
    assert answer.usage.completion_tokens == -(-len(text) // CHUNK_CHARS)
    assert answer.usage.total_tokens == 4 + answer.usage.completion_tokens
    # What the client sent is recorded verbatim, with its headers.
    assert fake.requests == [{"model": "some/model", "messages": MESSAGES, "temperature": 0.5}]
    assert fake.headers[0]["authorization"] == "Bearer sk-fake"


async def test_stream_text_without_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = await _collect(stream)

    assert len(chunks) > 3, "text must arrive in several chunks"
    assert all(c.object == "chat.completion.chunk" and c.model == "m" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert all(len(c.choices) == 1 for c in chunks)
    # No usage at all: the key is absent, not merely null.
    assert all("usage" not in c.model_fields_set for c in chunks)
    first = chunks[0].choices[0].delta
    assert (first.role, first.content) == ("assistant", "")
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "echo: hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_stream_text_with_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = await _collect(stream)

    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1
    assert with_usage[0] is chunks[-1]
    assert chunks[-1].choices == []
    # Every other chunk carries an explicit "usage": null, as OpenAI sends it.
    assert all("usage" in c.model_fields_set for c in chunks[:-1])
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there"
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_stream_tool_call(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "please call tool for weather"}],
        tools=TOOLS,
        stream=True,
    )
    chunks = await _collect(stream)

    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    head, fragments = calls[0], calls[1:]
    assert head.index == 0
    assert head.id is not None and head.id.startswith("call_")
    assert head.type == "function"
    assert head.function is not None
    assert (head.function.name, head.function.arguments) == ("get_weather", "")
    assert len(fragments) > 1, "arguments must arrive in several fragments"
    for fragment in fragments:
        assert fragment.index == 0
        assert fragment.model_fields_set == {"index", "function"}
        assert fragment.function is not None
        assert fragment.function.model_fields_set == {"arguments"}
    arguments = "".join(f.function.arguments or "" for f in fragments if f.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_non_stream_tool_call_named(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )

    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.id.startswith("call_")
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


async def test_tool_choice_none_answers_text(client: openai.AsyncOpenAI) -> None:
    answer = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "call tool"}],
        tools=TOOLS,
        tool_choice="none",
    )
    assert answer.choices[0].message.content == "echo: call tool"
    assert answer.choices[0].message.tool_calls is None


async def test_bad_key_is_401(fake: FakeOpenAIUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrong-key-1234", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            await bad.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    # Quoted back half masked, as api.openai.com does.
    assert "Incorrect API key provided: sk-wron******1234." in caught.value.message


async def test_fail_next_500_then_recovers(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.append(500)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=MESSAGES)

    # The queue is drained, so the next request succeeds; both were recorded.
    answer = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert answer.choices[0].message.content == "echo: hello there"
    assert len(fake.requests) == len(fake.headers) == 2


async def test_fail_next_400_message(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.append(400)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    assert "fake upstream rejected the request" in caught.value.message
    assert caught.value.type == "invalid_request_error"


async def test_fail_next_429(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.append(429)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.code == "rate_limit_exceeded"


async def test_midstream_abort_raises(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.append("midstream")
    received: list[ChatCompletionChunk] = []
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) <= 2


async def test_disconnect_raises(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.append("disconnect")
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_hang_times_out_and_stop_is_quick(fake: FakeOpenAIUpstream) -> None:
    fake.fail_next.extend(["hang", "hang"])
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-fake", max_retries=0, timeout=0.2
    ) as impatient:
        with pytest.raises(openai.APITimeoutError):
            await impatient.chat.completions.create(model="m", messages=MESSAGES)
        # A second hang still in flight must not make stop() wait out hang_seconds.
        pending = asyncio.create_task(
            impatient.with_options(timeout=10).chat.completions.create(model="m", messages=MESSAGES)
        )
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(openai.APIConnectionError):
            await pending


async def test_client_disconnect_sets_stream_cancelled(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    fake.chunk_delay = 0.05
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    await asyncio.wait_for(fake.stream_cancelled.wait(), timeout=2)


async def test_full_stream_does_not_set_cancelled(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    await _collect(stream)
    assert not fake.stream_cancelled.is_set()


async def test_stream_options_without_stream_rejected(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="m", messages=MESSAGES, stream_options={"include_usage": True}
        )
    assert caught.value.param == "stream_options"


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    page = await client.models.list()
    assert [m.id for m in page.data] == ["fake-model"]


async def test_checked_catches_misspelled_and_mistyped_fields() -> None:
    good: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    assert _checked(good, ChatCompletionChunk) is good
    misspelled = {**good, "choices": [{"index": 0, "delta": {"contnet": "hi"}}]}
    with pytest.raises(FidelityError, match="contnet"):
        _checked(misspelled, ChatCompletionChunk)
    with pytest.raises(FidelityError):
        _checked({**good, "created": "1"}, ChatCompletionChunk)
    with pytest.raises(FidelityError):
        _checked(good, ChatCompletion)  # a chunk is not a completion
