"""GeminiProvider against the fake upstream: URLs, auth, translation both ways, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from omnigate.providers.base import StreamBroken, UpstreamFailure
from omnigate.providers.gemini.client import GeminiProvider
from tests.providers.gemini.fake_gemini import FakeGeminiUpstream

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "additionalProperties": False,
        },
        "strict": True,
    },
}


@pytest.fixture
async def provider(fake: FakeGeminiUpstream) -> AsyncIterator[GeminiProvider]:
    backend = GeminiProvider("google", fake.base_url + "/", api_key="g-fake", read_timeout_s=1.0)
    await backend.start()
    yield backend
    await backend.close()


def chat(text: str, **extra: object) -> dict:
    return {"model": "google/gemini-2.5-flash", "messages": [{"role": "user", "content": text}], **extra}


async def collect(stream) -> list[dict]:
    # Items are lists of chunks (one per network read); flattened here.
    try:
        return [chunk async for item in stream for chunk in item]
    finally:
        await stream.aclose()


async def test_complete_sends_key_and_strips_prefix(
    provider: GeminiProvider, fake: FakeGeminiUpstream
) -> None:
    completion = await provider.complete(chat("hi there", max_tokens=50), account_id=1)
    assert completion["choices"][0]["message"]["content"] == "echo: hi there"
    assert completion["usage"]["prompt_tokens"] == 2
    assert fake.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]
    assert fake.headers[0]["x-goog-api-key"] == "g-fake"
    assert "authorization" not in fake.headers[0]
    assert fake.requests[0]["generationConfig"] == {"maxOutputTokens": 50}


@pytest.mark.parametrize("suffix", ["/v1beta", "/v1beta/"])
async def test_base_url_may_name_the_version(fake: FakeGeminiUpstream, suffix: str) -> None:
    backend = GeminiProvider("google", fake.base_url + suffix, api_key="g-fake")
    await backend.start()
    try:
        await backend.complete(chat("x"), account_id=1)
    finally:
        await backend.close()
    assert fake.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]


async def test_stream_with_usage(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    body = chat("stream this", stream=True, stream_options={"include_usage": True})
    chunks = await collect(await provider.open_stream(body, account_id=1))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: stream this"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5
    assert fake.paths == ["/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"]


async def test_tool_schema_is_cleaned_for_gemini(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    completion = await provider.complete(chat("weather?", tools=[TOOL], tool_choice="required"), account_id=1)
    call = completion["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    declaration = fake.requests[0]["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"] == {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}


async def test_max_tokens_cut_is_length(provider: GeminiProvider) -> None:
    completion = await provider.complete(chat("a long enough question", max_tokens=2), account_id=1)
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["choices"][0]["message"]["content"] == "echo: a "


async def test_untranslatable_body_is_a_400(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    body = chat("x", tools=[{"type": "web_search"}])
    with pytest.raises(UpstreamFailure) as failure:
        await provider.complete(body, account_id=1)
    assert failure.value.error.status == 400 and not failure.value.retryable
    assert fake.requests == []


async def test_wrong_key_is_a_retryable_auth_failure(fake: FakeGeminiUpstream) -> None:
    backend = GeminiProvider("google", fake.base_url, api_key="nope")
    await backend.start()
    try:
        with pytest.raises(UpstreamFailure) as failure:
            await backend.complete(chat("x"), account_id=1)
    finally:
        await backend.close()
    assert failure.value.retryable and failure.value.error.code == "upstream_auth"


async def test_429_carries_retry_delay(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    fake.fail_next = [429]
    with pytest.raises(UpstreamFailure) as failure:
        await provider.complete(chat("x"), account_id=1)
    assert failure.value.error.status == 429 and failure.value.retry_after == 7.0


async def test_timeout_is_504(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    fake.hang_seconds = 3.0
    fake.fail_next = ["hang"]
    with pytest.raises(UpstreamFailure) as failure:
        await provider.complete(chat("x"), account_id=1)
    assert failure.value.error.status == 504 and failure.value.retryable


async def test_disconnect_is_retryable(provider: GeminiProvider, fake: FakeGeminiUpstream) -> None:
    fake.fail_next = ["disconnect"]
    with pytest.raises(UpstreamFailure) as failure:
        await provider.complete(chat("x"), account_id=1)
    assert failure.value.error.status == 502 and failure.value.retryable


async def test_error_event_before_the_first_chunk_is_an_upstream_failure(
    provider: GeminiProvider, fake: FakeGeminiUpstream
) -> None:
    # Nothing reached the client yet, so another deployment may still be tried.
    fake.fail_next = ["stream_error_first"]
    with pytest.raises(UpstreamFailure) as failure:
        await provider.open_stream(chat("x", stream=True), account_id=1)
    assert failure.value.retryable and failure.value.error.status == 502


@pytest.mark.parametrize(("action", "code"), [("stream_error", "upstream_error"), ("midstream", None)])
async def test_failures_after_first_chunk_break_the_stream(
    provider: GeminiProvider, fake: FakeGeminiUpstream, action: str, code: str | None
) -> None:
    fake.fail_next = [action]
    fake.hold_after_first = asyncio.Event()
    stream = await provider.open_stream(chat("a question long enough to stream", stream=True), account_id=1)
    fake.hold_after_first.set()
    received = []
    with pytest.raises(StreamBroken) as broken:
        async for item in stream:
            received.extend(item)
    await stream.aclose()
    assert received and broken.value.error.status == 502
    if code:
        assert broken.value.error.code == code
