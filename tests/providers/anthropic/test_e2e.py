"""The official openai SDK → the gateway → the Anthropic adapter → a fake Anthropic API."""

from __future__ import annotations

import json

import openai
import pytest

from tests.providers.anthropic.conftest import MODEL, ClaudeGateway

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def test_sync_text(gateway: ClaudeGateway) -> None:
    result = await gateway.client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hello there claude"},
        ],
        max_tokens=50,
    )
    assert result.choices[0].message.content == "echo: hello there claude"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == MODEL
    # Words: "You are terse." (3) + "hello there claude" (3); "echo: hello there claude" is 6 pieces.
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (6, 6)
    sent = gateway.upstream.requests[-1]
    assert sent["system"] == "You are terse."
    assert sent["max_tokens"] == 50
    assert sent["messages"] == [{"role": "user", "content": "hello there claude"}]
    assert gateway.upstream.headers[-1]["x-api-key"] == "sk-ant-fake"


async def test_stream_text_ends_with_usage(gateway: ClaudeGateway) -> None:
    gateway.upstream.cache_read_tokens = 10
    stream = await gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream me please"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert final.usage.prompt_tokens == 3 + 10
    assert final.usage.prompt_tokens_details.cached_tokens == 10
    assert final.usage.completion_tokens == len("echo: stream me please") // 4 + 1
    sent = gateway.upstream.requests[-1]
    assert sent["stream"] is True and "stream_options" not in sent
    assert sent["max_tokens"] == 4096  # Anthropic requires it; the client set none


async def test_sync_tool_call(gateway: ClaudeGateway) -> None:
    result = await gateway.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert gateway.upstream.requests[-1]["tool_choice"] == {"type": "any"}

    # The tool result goes back as a user turn answering the tool_use; the fake checks the ids.
    followup = await gateway.client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert followup.choices[0].message.content == "echo: sunny"


async def test_stream_tool_call_reassembles(gateway: ClaudeGateway) -> None:
    stream = await gateway.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        stream=True,
    )
    name, arguments, ids, finish = "", "", set(), None
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                assert call.index == 0
                name += call.function.name or ""
                arguments += call.function.arguments or ""
                if call.id:
                    ids.add(call.id)
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert len(ids) == 1 and ids.pop().startswith("toolu_")
    assert finish == "tool_calls"
    assert gateway.upstream.requests[-1]["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }


async def test_reasoning_effort_streams_reasoning_content(gateway: ClaudeGateway) -> None:
    stream = await gateway.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "think hard"}],
        reasoning_effort="low",
        max_tokens=100,
        stream=True,
    )
    reasoning, text = "", ""
    async for chunk in stream:
        for choice in chunk.choices:
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            text += choice.delta.content or ""
    assert reasoning == "thinking about: think hard"
    assert text == "echo: think hard"
    sent = gateway.upstream.requests[-1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["max_tokens"] == 1124


async def test_upstream_400_keeps_its_message(gateway: ClaudeGateway) -> None:
    gateway.upstream.fail_next.append(400)
    with pytest.raises(openai.BadRequestError) as caught:
        await gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert "messages: fake upstream rejected the request" in caught.value.message


async def test_overloaded_529_becomes_502(gateway: ClaudeGateway) -> None:
    # A 529 is retried (max_attempts, default 3); overloaded every time, it becomes a 502.
    gateway.upstream.fail_next += [529, 529, 529]
    with pytest.raises(openai.InternalServerError) as caught:
        await gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert "provider 'claude' is overloaded (529)." in caught.value.message


async def test_error_event_mid_stream_ends_the_stream_with_an_error(gateway: ClaudeGateway) -> None:
    gateway.upstream.fail_next.append("error_event")
    stream = await gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream me please"}], stream=True
    )
    text = ""
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text == "echo"  # the one delta sent before the error
    assert "Overloaded" in caught.value.message
