"""CohereProvider against the fake Cohere upstream: HTTP, SSE and failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from omnigate.providers.base import StreamBroken, UpstreamFailure
from omnigate.providers.cohere.client import CohereProvider
from tests.providers.cohere.fake_upstream import TOOL_ARGUMENTS, FakeCohereUpstream

MODEL = "command-a-03-2025"
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def chat(content: str = "hello there", **extra: Any) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def streamed(**extra: Any) -> dict:
    return chat(stream=True, stream_options={"include_usage": True}, **extra)


async def collect(provider: CohereProvider, body: dict) -> list[dict]:
    stream = await provider.open_stream(body, account_id=1)
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.aclose()


async def test_complete(provider: CohereProvider, fake: FakeCohereUpstream) -> None:
    completion = await provider.complete(chat(temperature=0.2), account_id=1)
    assert completion["choices"][0]["message"]["content"] == "echo: hello there"
    assert completion["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert fake.requests[-1] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello there"}],
        "temperature": 0.2,
    }
    assert fake.headers[-1]["authorization"] == "Bearer co-fake"


@pytest.mark.parametrize("suffix", ["", "/", "/v2", "/v2/"])
async def test_base_url_with_or_without_v2(fake: FakeCohereUpstream, suffix: str) -> None:
    provider = CohereProvider("co", fake.base_url + suffix, api_key="co-fake")
    await provider.start()
    try:
        completion = await provider.complete(chat(), account_id=1)
    finally:
        await provider.close()
    assert completion["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("send_done", [False, True])
async def test_stream_text_with_usage(
    provider: CohereProvider, fake: FakeCohereUpstream, send_done: bool
) -> None:
    fake.send_done = send_done
    fake.cached_tokens = 1
    chunks = await collect(provider, streamed())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: hello there"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 1}
    assert fake.requests[-1]["stream"] is True and "stream_options" not in fake.requests[-1]


async def test_stream_tool_call_with_thinking(provider: CohereProvider) -> None:
    chunks = await collect(
        provider, streamed(tools=[WEATHER], tool_choice="required", reasoning_effort="low")
    )
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert reasoning == "thinking about: hello there"
    calls = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("get_weather_")
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == json.loads(TOOL_ARGUMENTS)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_refused_request_keeps_cohere_message(
    provider: CohereProvider, fake: FakeCohereUpstream
) -> None:
    fake.fail_next.append(400)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.complete(chat(), account_id=1)
    assert caught.value.error.status == 400 and not caught.value.retryable
    assert caught.value.error.message == "invalid request: fake upstream rejected the request"


@pytest.mark.parametrize(("status", "code"), [(503, "upstream_error"), (402, "upstream_billing")])
async def test_upstream_trouble_is_retryable(
    provider: CohereProvider, fake: FakeCohereUpstream, status: int, code: str
) -> None:
    fake.fail_next.append(status)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.open_stream(streamed(), account_id=1)
    assert (caught.value.error.status, caught.value.error.code) == (502, code)
    assert caught.value.retryable


async def test_wrong_key_is_the_gateway_s_problem(fake: FakeCohereUpstream) -> None:
    provider = CohereProvider("co", fake.base_url, api_key="wrong")
    await provider.start()
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.complete(chat(), account_id=1)
    finally:
        await provider.close()
    assert caught.value.error.status == 502 and caught.value.error.code == "upstream_auth"
    assert "invalid api token" not in caught.value.error.message


async def test_disconnect_before_answer(provider: CohereProvider, fake: FakeCohereUpstream) -> None:
    fake.fail_next.append("disconnect")
    with pytest.raises(UpstreamFailure) as caught:
        await provider.complete(chat(), account_id=1)
    assert caught.value.error.code == "upstream_unreachable" and caught.value.retryable


async def test_silent_upstream_times_out(fake: FakeCohereUpstream) -> None:
    provider = CohereProvider("co", fake.base_url, api_key="co-fake", read_timeout_s=0.2)
    await provider.start()
    fake.fail_next.append("hang")
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.complete(chat(), account_id=1)
    finally:
        await provider.close()
    assert caught.value.error.status == 504 and caught.value.retryable


@pytest.mark.parametrize(
    ("action", "words"),
    [("midstream", "stream broke"), ("truncate", "before it finished"), ("stream-error", "generation")],
)
async def test_stream_failures_after_the_first_chunk(
    provider: CohereProvider, fake: FakeCohereUpstream, action: str, words: str
) -> None:
    fake.fail_next.append(action)
    stream = await provider.open_stream(streamed(), account_id=1)
    received = []
    with pytest.raises(StreamBroken) as caught:
        async for chunk in stream:
            received.append(chunk)
    await stream.aclose()
    assert received  # the role chunk went out before the failure
    assert caught.value.error.status == 502 and words in caught.value.error.message


async def test_untranslatable_request_never_reaches_cohere(
    provider: CohereProvider, fake: FakeCohereUpstream
) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}
    with pytest.raises(UpstreamFailure) as caught:
        await provider.complete(body, account_id=1)
    assert caught.value.error.status == 400 and caught.value.retryable  # another deployment may take it
    assert fake.requests == []


async def test_closing_a_stream_early(provider: CohereProvider) -> None:
    stream = await provider.open_stream(streamed(content="a long enough question to stream"), account_id=1)
    async for _ in stream:
        break
    await stream.aclose()
