"""The Responses API passed through natively: the official openai SDK → the gateway → a fake
upstream that speaks Responses itself (its requests, answers and events checked against the SDK's
types on its side). The gateway keeps the ids, the storage and the chain of turns; the upstream
gets self-contained requests with `store: false`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.conftest import Harness, assert_billed, eventually
from tests.fakes.openai_responses import ENCRYPTED_REASONING
from tests.responses.openapi_spec import load_spec

REASONING_MODEL = "o3-mini"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def user(text: str) -> dict[str, Any]:
    """A user turn as the upstream receives it."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_create_goes_to_the_upstreams_responses_endpoint(native_harness: Harness) -> None:
    upstream = native_harness.upstream
    response = await native_harness.client().responses.create(
        model="gpt-4o", input="hello", instructions="Be brief.", max_output_tokens=64, metadata={"k": "v"}
    )
    assert response.output_text == "echo: hello"
    assert response.id.startswith("resp_") and response.model == "gpt-4o"
    assert response.usage is not None and response.usage.output_tokens > 0
    assert upstream.paths == ["/v1/responses"] and not upstream.fidelity_errors
    sent = upstream.requests[-1]
    assert sent == {
        "model": "gpt-4o-2024-08-06",
        "input": [user("hello")],
        "instructions": "Be brief.",
        "max_output_tokens": 64,
        "metadata": {"k": "v"},
        "store": False,
    }
    # The gateway's own id, stored under the account, not the upstream's.
    fetched = await native_harness.client().responses.retrieve(response.id)
    assert fetched.output_text == "echo: hello" and fetched.id == response.id


async def test_stream_relays_the_upstreams_events(native_harness: Harness) -> None:
    stream = await native_harness.client().responses.create(
        model="gpt-4o", input="stream me please", stream=True
    )
    events = [event async for event in stream]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: stream me please"
    final = events[-1].response
    assert final.id == events[0].response.id and final.id.startswith("resp_") and final.model == "gpt-4o"
    assert native_harness.upstream.requests[-1]["stream"] is True
    again = await native_harness.client().responses.retrieve(final.id)
    assert again.output_text == "echo: stream me please"


async def test_function_tool_round_trip_with_the_output_items_sent_back(native_harness: Harness) -> None:
    client = native_harness.client()
    first = await client.responses.create(model="gpt-4o", input="please call tool", tools=[WEATHER_TOOL])
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    # Clients send the output items back as they got them, ids included; an upstream that
    # stores nothing must not see those ids (the fake answers 404 for them, as OpenAI does).
    second = await client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "please call tool"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "22 degrees"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert second.output_text == "echo: please call tool"
    sent = native_harness.upstream.requests[-1]["input"]
    assert sent[1] == {
        "type": "function_call",
        "call_id": call.call_id,
        "name": "get_weather",
        "arguments": call.arguments,
    }
    assert sent[2] == {"type": "function_call_output", "call_id": call.call_id, "output": "22 degrees"}
    assert not native_harness.upstream.fidelity_errors


async def test_three_turns_reach_the_upstream_whole(native_harness: Harness) -> None:
    client = native_harness.client()
    one = await client.responses.create(model="gpt-4o", input="first")
    two = await client.responses.create(model="gpt-4o", input="second", previous_response_id=one.id)
    three = await client.responses.create(model="gpt-4o", input="third", previous_response_id=two.id)
    assert three.output_text == "echo: third" and three.previous_response_id == two.id
    sent = native_harness.upstream.requests[-1]
    assert "previous_response_id" not in sent and sent["store"] is False
    assert sent["input"] == [
        user("first"),
        {"role": "assistant", "content": "echo: first"},
        user("second"),
        {"role": "assistant", "content": "echo: second"},
        user("third"),
    ]


async def test_reasoning_goes_back_only_with_its_encrypted_content(native_harness: Harness) -> None:
    client = native_harness.client()
    # A model whose rules take reasoning_effort (gpt-4o's do not, so reasoning is not sent for it).
    plain = await client.responses.create(model=REASONING_MODEL, input="think", reasoning={"effort": "low"})
    assert [item.type for item in plain.output] == ["reasoning", "message"]
    await client.responses.create(model=REASONING_MODEL, input="again", previous_response_id=plain.id)
    assert all(i.get("type") != "reasoning" for i in native_harness.upstream.requests[-1]["input"])

    kept = await client.responses.create(
        model=REASONING_MODEL,
        input="think",
        reasoning={"effort": "low"},
        include=["reasoning.encrypted_content"],
    )
    await client.responses.create(model=REASONING_MODEL, input="again", previous_response_id=kept.id)
    reasoning = [i for i in native_harness.upstream.requests[-1]["input"] if i.get("type") == "reasoning"]
    assert reasoning == [
        {
            "type": "reasoning",
            "id": kept.output[0].id,
            "summary": [],
            "encrypted_content": ENCRYPTED_REASONING,
        }
    ]
    assert not native_harness.upstream.fidelity_errors


async def test_native_responses_are_billed_from_the_upstreams_usage(native_harness: Harness) -> None:
    response = await native_harness.client().responses.create(model="gpt-4o", input="bill me now")
    assert response.usage is not None
    await assert_billed(native_harness, response.usage.input_tokens, response.usage.output_tokens)


async def test_failover_crosses_to_a_chat_only_upstream(native_harness: Harness) -> None:
    native_harness.upstream.fail_next.append(503)
    response = await native_harness.client().responses.create(model="gpt-4o", input="fail over")
    assert response.output_text == "echo: fail over"
    assert native_harness.upstream.paths == ["/v1/responses"]
    assert native_harness.backup.paths == ["/v1/chat/completions"]


@pytest.mark.parametrize("failure", ["failed_event", "error_event", "midstream"])
async def test_a_stream_that_fails_upstream_ends_with_response_failed(
    native_harness: Harness, failure: str
) -> None:
    native_harness.upstream.fail_next.append(failure)
    stream = await native_harness.client().responses.create(model="gpt-4o", input="doomed", stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None and failed.id == events[0].response.id
    with pytest.raises(openai.NotFoundError):
        await native_harness.client().responses.retrieve(failed.id)


async def test_client_disconnect_cancels_upstream_and_bills_what_was_relayed(native_harness: Harness) -> None:
    native_harness.upstream.chunk_delay = 0.05
    long_text = " ".join(f"word{i}" for i in range(60))
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            native_harness.base_url + "/responses",
            json={"model": "gpt-4o", "input": long_text, "stream": True},
            headers={"Authorization": f"Bearer {native_harness.key}"},
        )
        for _ in range(5):  # created, in_progress, the message and its part opened, a first delta
            await response.content.readuntil(b"\n\n")
        response.close()
    await asyncio.wait_for(native_harness.upstream.stream_cancelled.wait(), timeout=3)

    async def charged() -> bool:
        await native_harness.flush()
        entries = native_harness.db.ledger_entries(native_harness.account_id)
        return any(e.kind == "charge" and e.amount < 0 for e in entries)

    await eventually(charged)
    entries = native_harness.db.ledger_entries(native_harness.account_id)
    charge = [e for e in entries if e.kind == "charge"][-1]
    assert 0 < charge.completion_tokens < 100  # an estimate of part of the answer, not all of it


async def test_upstream_errors_keep_their_message(native_harness: Harness) -> None:
    native_harness.upstream.fail_next.append(400)
    with pytest.raises(openai.BadRequestError, match="fake upstream rejected the request"):
        await native_harness.client().responses.create(model="gpt-4o", input="rejected")
    assert native_harness.backup.paths == []  # a client error is not tried elsewhere


async def test_answers_and_events_match_openais_schemas(native_harness: Harness) -> None:
    spec = load_spec()
    headers = {"Authorization": f"Bearer {native_harness.key}"}
    url = f"{native_harness.base_url}/responses"
    body = {"model": REASONING_MODEL, "tools": [WEATHER_TOOL], "reasoning": {"effort": "low"}}
    async with aiohttp.ClientSession() as session:
        for text in ("please call tool", "just words"):
            async with session.post(url, json={**body, "input": text}, headers=headers) as reply:
                assert reply.status == 200
                spec.validate(await reply.json(), "Response")
            async with session.post(
                url, json={**body, "input": text, "stream": True}, headers=headers
            ) as reply:
                assert reply.status == 200
                raw = await reply.read()
            events = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
            assert events[-1]["type"] == "response.completed"
            for event in events:
                spec.validate_event(event)
