"""End to end: the official openai SDK → the real gateway → GeminiProvider → the fake Gemini API."""

from __future__ import annotations

import json

import openai
import pytest

from tests.providers.gemini.conftest import STARTING_CREDITS, GeminiHarness
from tests.providers.gemini.fake_gemini import THOUGHT, signature

MODEL = "google/gemini-2.5-flash"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


async def test_sync_text_is_translated_and_billed(gemini_gateway: GeminiHarness) -> None:
    result = await gemini_gateway.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello gemini"}],
        max_tokens=50,
        temperature=0.5,
    )
    assert result.choices[0].message.content == "echo: hello gemini"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == MODEL
    assert result.usage.prompt_tokens == 4 and result.usage.completion_tokens == 5
    sent = gemini_gateway.upstream.requests[-1]
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["generationConfig"] == {"temperature": 0.5, "maxOutputTokens": 50}
    assert gemini_gateway.upstream.paths[-1] == "/v1beta/models/gemini-2.5-flash:generateContent"

    charged = result.model_extra["meta"]["usage"]["tokens_used"]
    assert charged > 0
    await gemini_gateway.gateway.sync.flush()
    assert gemini_gateway.db.account(gemini_gateway.account_id).balance == STARTING_CREDITS - charged


async def test_streamed_text_ends_with_usage(gemini_gateway: GeminiHarness) -> None:
    stream = await gemini_gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream me please"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert final.usage.prompt_tokens == 3 and final.usage.completion_tokens == 6
    assert final.model_extra["meta"]["usage"]["tokens_used"] > 0
    assert all(c.model == MODEL for c in chunks)
    assert gemini_gateway.upstream.paths[-1].endswith(":streamGenerateContent?alt=sse")


async def test_tool_call_sync_then_tool_result(gemini_gateway: GeminiHarness) -> None:
    client = gemini_gateway.client()
    messages: list = [{"role": "user", "content": "weather in Paris?"}]
    result = await client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    )
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    sent = gemini_gateway.upstream.requests[-1]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert "additionalProperties" not in json.dumps(sent["tools"])

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp": 21})},
    ]
    follow_up = await client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert follow_up.choices[0].message.content == 'echo: {"temp": 21}'
    turns = gemini_gateway.upstream.requests[-1]["contents"]
    assert turns[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert turns[2]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]


async def test_tool_call_streamed(gemini_gateway: GeminiHarness) -> None:
    stream = await gemini_gateway.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert len(calls) == 1
    assert calls[0].index == 0 and calls[0].id.startswith("call_") and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None


async def test_thought_signature_survives_the_round_trip(gemini_gateway: GeminiHarness) -> None:
    # Gemini 3 refuses a replayed call without its signature; the client just sends the message back.
    client = gemini_gateway.client()
    model = "google/gemini-3-pro-preview"
    messages: list = [{"role": "user", "content": "weather?"}]
    result = await client.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    )
    message = result.choices[0].message
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny"},
    ]
    follow_up = await client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert follow_up.choices[0].message.content == 'echo: {"output": "sunny"}'
    replayed = gemini_gateway.upstream.requests[-1]["contents"][1]["parts"][0]
    assert replayed["thoughtSignature"] == signature("get_weather")


async def test_reasoning_streams_as_reasoning_content(gemini_gateway: GeminiHarness) -> None:
    stream = await gemini_gateway.client().chat.completions.create(
        model="google/gemini-2.5-flash-lite-preview",
        messages=[{"role": "user", "content": "think"}],
        reasoning_effort="low",
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    assert reasoning == THOUGHT
    sent = gemini_gateway.upstream.requests[-1]["generationConfig"]
    assert sent["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == 4


async def test_400_keeps_googles_message(gemini_gateway: GeminiHarness) -> None:
    gemini_gateway.upstream.fail_next = [400]
    with pytest.raises(openai.BadRequestError) as err:
        await gemini_gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.status_code == 400
    assert "Request contains an invalid argument." in err.value.message
    assert len(gemini_gateway.upstream.requests) == 1  # a refused request is not retried


async def test_503_is_retried_then_502(gemini_gateway: GeminiHarness) -> None:
    upstream = gemini_gateway.upstream
    upstream.fail_next = [503]
    result = await gemini_gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "retry me"}]
    )
    assert result.choices[0].message.content == "echo: retry me"
    # The backup route keeps the catalogue's `google/` prefix; the adapter strips it.
    assert upstream.paths[-1] == "/v1beta/models/gemini-2.5-flash:generateContent"

    upstream.fail_next = [503, 503]
    with pytest.raises(openai.APIStatusError) as err:
        await gemini_gateway.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.status_code == 502
    assert "is unavailable (503)." in err.value.message


async def test_stream_error_event_before_any_chunk_is_retried(gemini_gateway: GeminiHarness) -> None:
    gemini_gateway.upstream.fail_next = ["stream_error_first"]
    stream = await gemini_gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "again"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: again"
    assert len(gemini_gateway.upstream.requests) == 2


async def test_blocked_prompt_is_content_filter(gemini_gateway: GeminiHarness) -> None:
    result = await gemini_gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a blocked prompt"}]
    )
    assert result.choices[0].finish_reason == "content_filter"
    assert result.choices[0].message.content == ""
