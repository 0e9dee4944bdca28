"""End to end: the official openai SDK → the real gateway → CohereProvider → the fake Cohere API."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.providers.cohere.conftest import TOOLS_MODEL, UPSTREAM_MODEL, CohereHarness
from tests.providers.cohere.fake_upstream import TOOL_ARGUMENTS

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def test_sync_text(harness: CohereHarness) -> None:
    result = await harness.client().chat.completions.create(
        model="cohere/command-a",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there gateway"},
        ],
        max_tokens=50,
        top_p=0.5,
    )
    assert result.choices[0].message.content == "echo: hello there gateway"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "cohere/command-a"
    assert result.usage is not None and result.usage.prompt_tokens == 5
    sent = harness.upstream.requests[-1]
    assert sent["model"] == UPSTREAM_MODEL
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert (sent["max_tokens"], sent["p"]) == (50, 0.5)


async def test_streamed_text_ends_with_usage(harness: CohereHarness) -> None:
    stream = await harness.client().chat.completions.create(
        model="cohere/command-a", messages=[{"role": "user", "content": "stream me please"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (3, 6)
    assert all(c.model == "cohere/command-a" for c in chunks)
    assert harness.upstream.requests[-1]["stream"] is True


async def test_tool_call_round_trip(harness: CohereHarness) -> None:
    client = harness.client()
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    result = await client.chat.completions.create(
        model=TOOLS_MODEL, messages=messages, tools=[WEATHER], tool_choice="required"
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I will call get_weather."
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == json.loads(TOOL_ARGUMENTS)  # type: ignore[union-attr]

    # The answer goes back with the tool's result, as an OpenAI client sends it.
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "21C"},
    ]
    follow_up = await client.chat.completions.create(model=TOOLS_MODEL, messages=messages, tools=[WEATHER])
    assert follow_up.choices[0].message.content == "echo: weather in Paris?"
    sent = harness.upstream.requests[-1]["messages"]
    assert sent[1]["tool_plan"] == "I will call get_weather." and sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "21C"}


async def test_streamed_tool_call(harness: CohereHarness) -> None:
    stream = await harness.client().chat.completions.create(
        model=TOOLS_MODEL,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id and calls[0].function and calls[0].function.name == "get_weather"
    arguments = "".join(c.function.arguments or "" for c in calls if c.function)
    assert json.loads(arguments) == json.loads(TOOL_ARGUMENTS)
    assert {c.index for c in calls} == {0}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None
    assert harness.upstream.requests[-1]["tool_choice"] == "REQUIRED"


async def test_a_refused_request_keeps_cohere_message(harness: CohereHarness) -> None:
    harness.upstream.fail_next.append(400)
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().chat.completions.create(
            model="cohere/command-a", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 400
    assert "invalid request: fake upstream rejected the request" in caught.value.message
    assert len(harness.upstream.requests) == 1  # not retried: the request itself was refused


async def test_an_unavailable_upstream_is_a_bad_gateway(harness: CohereHarness) -> None:
    # Retried once (max_attempts = 2 in this harness); unavailable both times, it becomes a 502.
    harness.upstream.fail_next += [503, 503]
    with pytest.raises(openai.InternalServerError) as caught:
        await harness.client().chat.completions.create(
            model="cohere/command-a", messages=[{"role": "user", "content": "x"}], stream=True
        )
    assert caught.value.status_code == 502
    assert "is unavailable (503)." in caught.value.message
