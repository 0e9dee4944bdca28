"""Chat completions end to end: the official openai SDK → the gateway → a fake OpenAI upstream."""

from __future__ import annotations

import asyncio
import json
import math

import aiohttp
import openai
import pytest

from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    STARTING_CREDITS,
    Harness,
    eventually,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def expected_cost(usage) -> int:
    return math.ceil(
        usage.prompt_tokens * INPUT_CREDITS_PER_TOKEN + usage.completion_tokens * OUTPUT_CREDITS_PER_TOKEN
    )


async def test_sync_completion_through_alias_is_billed(harness: Harness) -> None:
    client = harness.client()
    result = await client.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "hello there gateway"}],
        max_tokens=50,
        extra_body={"some_unknown_field": True},  # ignored by the service, never forwarded
    )
    assert result.choices[0].message.content == "echo: hello there gateway"
    assert result.model == "gpt-4o"  # the catalogue id, not the alias or the upstream's name
    forwarded = harness.upstream.requests[-1]
    assert forwarded["model"] == "gpt-4o-2024-08-06"
    assert "some_unknown_field" not in forwarded
    charged = result.model_extra["meta"]["usage"]["tokens_used"]
    assert charged == expected_cost(result.usage) > 0

    await harness.flush()
    account = harness.db.account(harness.account_id)
    assert account.balance == STARTING_CREDITS - charged
    assert harness.db.ledger_sum(harness.account_id) == account.balance


async def test_stream_text_ends_with_usage_and_done(harness: Harness) -> None:
    client = harness.client()
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stream me please"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert all(c.model == "gpt-4o" for c in chunks)
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None  # sent even without stream_options
    assert final.model_extra["meta"]["usage"]["tokens_used"] == expected_cost(final.usage)
    assert harness.upstream.requests[-1]["stream_options"] == {"include_usage": True}


async def test_stream_raw_bytes_end_with_done(harness: Harness) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            harness.base_url + "/chat/completions",
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            },
            headers={"Authorization": f"Bearer {harness.key}"},
        ) as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        raw = await response.read()
    events = [e for e in raw.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    usage_event = json.loads(events[-2].removeprefix("data: "))
    assert usage_event["choices"] == [] and usage_event["usage"]["total_tokens"] > 0


async def test_stream_tool_call_deltas_reassemble(harness: Harness) -> None:
    client = harness.client()
    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        stream=True,
    )
    name, arguments, finish = "", "", None
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                assert call.index == 0
                name += call.function.name or ""
                arguments += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"


async def test_sync_tool_call(harness: Harness) -> None:
    result = await harness.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "please call tool"}],
        tools=[WEATHER_TOOL],
    )
    call = result.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert result.choices[0].finish_reason == "tool_calls"


async def test_parameter_rules_reject_out_of_range_values(harness: Harness) -> None:
    client = harness.client()
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], top_p=0
        )
    assert caught.value.status_code == 400
    assert "Body validation error!" in caught.value.message
    assert "top_p" in caught.value.message
    assert caught.value.body["param"] == "top_p"
    assert harness.upstream.requests == []  # never forwarded


async def test_missing_messages_and_bad_json(harness: Harness) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.post(harness.base_url + "/chat/completions", json={"model": "gpt-4o"}) as response:
            body = await response.json()
            assert response.status == 400
            assert body["error"]["param"] == "messages"
            assert body["statusCode"] == 400 and body["path"] == "/v1/chat/completions"
            assert body["requestId"] and body["timestamp"].endswith("Z")
        async with http.post(harness.base_url + "/chat/completions", data=b"{not json") as response:
            assert response.status == 400
            assert "not valid JSON" in (await response.json())["message"]


async def test_unknown_deprecated_and_wrong_type_models(harness: Harness) -> None:
    client = harness.client()
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="o1-mini", messages=[{"role": "user", "content": "x"}])
    assert "o1-mini" in caught.value.message and "no longer available" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="flux/schnell", messages=[{"role": "user", "content": "x"}]
        )
    assert "/v1/images/generations" in caught.value.message


async def test_missing_and_bad_keys_get_401(harness: Harness) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await harness.client(key="og-not-a-real-key").chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert "valid API key" in caught.value.message
    async with aiohttp.ClientSession() as http:
        async with http.get(harness.base_url + "/billing/balance") as response:
            assert response.status == 401


async def test_out_of_credits_gets_403(harness: Harness) -> None:
    account = harness.db.create_account("broke", low_balance_threshold=0, origin="test")
    key, _ = harness.db.create_key("broke", admin=False, origin="test")
    await harness.gateway.sync.poll()
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await harness.client(key=key).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )
    assert "run out of credits" in caught.value.message
    assert harness.db.account(account.id).balance == 0


async def test_fifty_concurrent_requests_never_overdraw(harness: Harness) -> None:
    # Each request reserves (body bytes x 2) + (10 tokens x 4) credits; fund ten of them.
    body_bytes = len(
        json.dumps(
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "race"}],
                "max_tokens": 10,
            },
            separators=(",", ":"),
        )
    )
    per_request = body_bytes * INPUT_CREDITS_PER_TOKEN + 10 * OUTPUT_CREDITS_PER_TOKEN
    harness.db.create_account("racer", low_balance_threshold=0, origin="test")
    harness.db.top_up("racer", per_request * 10, origin="test")
    key, _ = harness.db.create_key("racer", admin=False, origin="test")
    await harness.gateway.sync.poll()
    client = harness.client(key=key)
    harness.upstream.chunk_delay = 0.0

    async def one() -> bool:
        try:
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "race"}], max_tokens=10
            )
            return True
        except openai.PermissionDeniedError:
            return False

    outcomes = await asyncio.gather(*(one() for _ in range(50)))
    assert sum(outcomes) >= 10  # at least the ten funded ones got through
    assert sum(not ok for ok in outcomes) > 0
    await harness.flush()
    account = harness.db.account("racer")
    assert account.balance >= 0
    assert harness.db.ledger_sum(account.id) == account.balance
    charges = [e for e in harness.db.ledger_entries(account.id) if e.kind == "charge"]
    assert len(charges) == sum(outcomes)
    # Reservations, not write-offs, kept the balance up: every charge was paid in full.
    assert not any(e.note and "capped" in e.note for e in charges)


async def test_fallback_to_the_next_route_on_upstream_500(harness: Harness) -> None:
    harness.upstream.fail_next.append(500)
    result = await harness.client().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "fall back"}]
    )
    assert result.choices[0].message.content == "echo: fall back"
    assert len(harness.upstream.requests) == 1 and len(harness.backup.requests) == 1
    assert harness.backup.requests[0]["model"] == "gpt-4o"


async def test_upstream_failures_map_to_gateway_errors(harness: Harness) -> None:
    client = harness.client()
    messages = [{"role": "user", "content": "x"}]
    # A model with a single route is tried twice (max_attempts = 2); two 500s become a 502.
    harness.upstream.fail_next += [500, 500]
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.status_code == 502
    assert caught.value.response.json()["statusCode"] == 502
    # A 400 upstream keeps its status and message and is not retried elsewhere.
    harness.upstream.fail_next.append(400)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert "fake upstream rejected the request" in caught.value.message
    # An upstream that never answers, twice: 504 once the read timeouts pass.
    harness.upstream.fail_next += ["hang", "hang"]
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert caught.value.status_code == 504
    await harness.flush()
    # Failed calls cost nothing.
    assert harness.db.account(harness.account_id).balance == STARTING_CREDITS


async def test_stream_that_breaks_midway_ends_with_an_error_event(harness: Harness) -> None:
    harness.upstream.fail_next.append("midstream")
    stream = await harness.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "this stream will break"}],
        stream=True,
    )
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert "Bad Gateway" in caught.value.message


async def test_client_disconnect_cancels_upstream_and_bills_what_was_produced(
    harness: Harness,
) -> None:
    harness.upstream.chunk_delay = 0.05
    long_text = " ".join(f"word{i}" for i in range(60))
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            harness.base_url + "/chat/completions",
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": long_text}],
                "stream": True,
            },
            headers={"Authorization": f"Bearer {harness.key}"},
        )
        await response.content.readuntil(b"\n\n")
        await response.content.readuntil(b"\n\n")
        response.close()
    await asyncio.wait_for(harness.upstream.stream_cancelled.wait(), timeout=3)

    async def charged() -> bool:
        await harness.flush()
        entries = harness.db.ledger_entries(harness.account_id)
        return any(e.kind == "charge" and e.amount < 0 for e in entries)

    await eventually(charged)
    charge = [e for e in harness.db.ledger_entries(harness.account_id) if e.kind == "charge"][-1]
    assert 0 < charge.completion_tokens < 100  # part of the answer, not all of it


async def test_model_without_route_is_503_naming_the_fix(harness: Harness) -> None:
    harness.gateway.router._routes = [r for r in harness.gateway.router._routes if r.model != "*"]
    harness.gateway.router._cache.clear()
    with pytest.raises(openai.APIStatusError) as caught:
        await harness.client().chat.completions.create(
            model="claude-3-haiku-20240307", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 503
    assert "[[routes]]" in caught.value.message


async def test_a_failing_deployment_cools_down_and_its_traffic_goes_to_the_next(harness: Harness) -> None:
    harness.gateway.router.health.failures_to_cool = 1
    harness.upstream.fail_next.append(503)
    client = harness.client()
    messages = [{"role": "user", "content": "x"}]
    await client.chat.completions.create(model="gpt-4o", messages=messages)  # primary fails, backup answers
    await client.chat.completions.create(model="gpt-4o", messages=messages)  # primary is cooling down
    assert len(harness.upstream.requests) == 1
    assert len(harness.backup.requests) == 2


async def test_a_429_is_retried_on_the_same_deployment_after_a_backoff(harness: Harness) -> None:
    harness.upstream.fail_next.append(429)
    reply = await harness.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
    )
    assert reply.choices[0].message.content == "echo: again"
    assert len(harness.upstream.requests) == 2
