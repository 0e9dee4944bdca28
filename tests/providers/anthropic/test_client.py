"""AnthropicProvider against the fake Anthropic API: URLs, headers, failures before and mid-stream."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omnigate.providers.anthropic.client import AnthropicProvider
from omnigate.providers.base import StreamBroken, UpstreamFailure
from tests.providers.anthropic.fake_anthropic import API_KEY, FakeAnthropicUpstream

BODY = {"model": "claude-3-haiku-20240307", "messages": [{"role": "user", "content": "hello there"}]}
STREAM_BODY = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


async def started(base_url: str, **kwargs: Any) -> AnthropicProvider:
    provider = AnthropicProvider("claude", base_url, **{"api_key": API_KEY, **kwargs})
    await provider.start()
    return provider


@pytest.fixture
async def provider(fake: FakeAnthropicUpstream) -> AsyncIterator[AnthropicProvider]:
    provider = await started(fake.base_url)
    yield provider
    await provider.close()


async def collect(provider: AnthropicProvider, body: dict[str, Any]) -> list[dict[str, Any]]:
    stream = await provider.open_stream(body, account_id=1)
    try:
        return [chunk async for batch in stream for chunk in batch]
    finally:
        await stream.aclose()


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(fake: FakeAnthropicUpstream, suffix: str) -> None:
    provider = await started(fake.base_url + suffix)
    try:
        completion = await provider.complete(BODY, account_id=1)
    finally:
        await provider.close()
    assert completion["choices"][0]["message"]["content"] == "echo: hello there"


async def test_headers(fake: FakeAnthropicUpstream) -> None:
    provider = await started(fake.base_url, headers={"anthropic-beta": "some-feature-2025-01-01"})
    try:
        await provider.complete(BODY, account_id=1)
    finally:
        await provider.close()
    headers = fake.headers[-1]
    assert headers["x-api-key"] == API_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert headers["anthropic-beta"] == "some-feature-2025-01-01"
    assert "authorization" not in headers


async def test_stream_chunks(provider: AnthropicProvider) -> None:
    chunks = await collect(provider, STREAM_BODY)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == (
        "echo: hello there"
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 2


async def test_wrong_key_is_the_gateways_problem(fake: FakeAnthropicUpstream) -> None:
    provider = await started(fake.base_url, api_key="sk-ant-wrong")
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.complete(BODY, account_id=1)
    finally:
        await provider.close()
    assert caught.value.retryable and caught.value.error.status == 502
    assert caught.value.error.message == (
        "Bad Gateway: provider 'claude' refused the gateway's credentials (401)."
    )


async def test_rate_limit_before_the_stream(fake: FakeAnthropicUpstream, provider: AnthropicProvider) -> None:
    fake.fail_next.append(429)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.open_stream(STREAM_BODY, account_id=1)
    assert caught.value.error.status == 429 and caught.value.retry_after == 7.0


async def test_error_event_mid_stream(fake: FakeAnthropicUpstream, provider: AnthropicProvider) -> None:
    fake.fail_next.append("error_event")
    stream = await provider.open_stream(STREAM_BODY, account_id=1)
    received: list[dict[str, Any]] = []
    try:
        with pytest.raises(StreamBroken) as caught:
            async for batch in stream:
                received.extend(batch)
    finally:
        await stream.aclose()
    assert caught.value.error.status == 502
    assert "failed mid-stream: Overloaded" in caught.value.error.message
    assert received[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}


async def test_stream_cut_off(fake: FakeAnthropicUpstream, provider: AnthropicProvider) -> None:
    fake.fail_next.append("truncate")
    stream = await provider.open_stream(STREAM_BODY, account_id=1)
    try:
        with pytest.raises(StreamBroken) as caught:
            async for _ in stream:
                pass
    finally:
        await stream.aclose()
    assert caught.value.error.status == 502
    assert caught.value.error.code in ("upstream_truncated", "upstream_broken")


async def test_untranslatable_request_fails_before_sending(
    fake: FakeAnthropicUpstream, provider: AnthropicProvider
) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    body = {**BODY, "messages": [{"role": "user", "content": [audio]}]}
    with pytest.raises(UpstreamFailure) as caught:
        await provider.complete(body, account_id=1)
    assert caught.value.error.status == 400 and caught.value.error.param == "messages"
    # Another deployment of the model, one that speaks OpenAI's protocol, may take it.
    assert caught.value.retryable
    assert fake.requests == []


async def test_unreachable_upstream() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    provider = await started(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.complete(BODY, account_id=1)
    finally:
        await provider.close()
    assert caught.value.retryable and caught.value.error.code == "upstream_unreachable"
