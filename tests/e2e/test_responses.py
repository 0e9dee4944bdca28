"""OpenAI's Responses API end to end: the official openai SDK → the gateway → the fake chat
upstream, with stored turns for previous_response_id, GET and DELETE."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

from tests.e2e.conftest import Harness, assert_billed

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_create_answers_with_the_echo(harness: Harness) -> None:
    response = await harness.client().responses.create(
        model="gpt-4o", input="hello", instructions="Be brief."
    )
    assert response.output_text == "echo: hello"
    assert response.status == "completed" and response.model == "gpt-4o"
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    assert response.usage is not None and response.usage.output_tokens > 0
    sent = harness.upstream.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]


async def test_max_output_tokens_becomes_max_tokens(harness: Harness) -> None:
    await harness.client().responses.create(model="gpt-4o", input="hi", max_output_tokens=64, temperature=0.5)
    sent = harness.upstream.requests[-1]
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 64
    assert sent["temperature"] == 0.5


async def test_stream_sends_typed_events_and_completes(harness: Harness) -> None:
    stream = await harness.client().responses.create(model="gpt-4o", input="stream me please", stream=True)
    deltas, kinds, final = [], [], None
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type == "response.completed":
            final = event.response
    assert "".join(deltas) == "echo: stream me please"
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert final is not None and final.output_text == "echo: stream me please"
    assert final.usage is not None and final.usage.output_tokens > 0
    # A streamed response is stored like any other.
    again = await harness.client().responses.retrieve(final.id)
    assert again.output_text == "echo: stream me please"


async def test_function_tool_round_trip(harness: Harness) -> None:
    client = harness.client()
    first = await client.responses.create(model="gpt-4o", input="please call tool", tools=[WEATHER_TOOL])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert harness.upstream.requests[-1]["tools"][0]["function"]["name"] == "get_weather"

    second = await client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "please call tool"},
            {
                "type": "function_call",
                "call_id": calls[0].call_id,
                "name": "get_weather",
                "arguments": calls[0].arguments,
            },
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="none",
    )
    assert second.output_text == "echo: please call tool"
    messages = harness.upstream.requests[-1]["messages"]
    assert messages[1]["role"] == "assistant" and messages[1]["tool_calls"][0]["id"] == calls[0].call_id
    assert messages[2] == {"role": "tool", "tool_call_id": calls[0].call_id, "content": "sunny"}


async def test_streamed_function_call(harness: Harness) -> None:
    stream = await harness.client().responses.create(
        model="gpt-4o", input="weather?", tools=[WEATHER_TOOL], tool_choice="required", stream=True
    )
    arguments, final = "", None
    async for event in stream:
        if event.type == "response.function_call_arguments.delta":
            arguments += event.delta
        if event.type == "response.completed":
            final = event.response
    assert json.loads(arguments) == {"city": "Paris"}
    assert final is not None and final.output[0].type == "function_call"


async def test_three_turns_through_previous_response_id(harness: Harness) -> None:
    client = harness.client()
    one = await client.responses.create(model="gpt-4o", input="first")
    two = await client.responses.create(model="gpt-4o", input="second", previous_response_id=one.id)
    three = await client.responses.create(model="gpt-4o", input="third", previous_response_id=two.id)
    assert three.output_text == "echo: third" and three.previous_response_id == two.id
    assert harness.upstream.requests[-1]["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "echo: second"},
        {"role": "user", "content": "third"},
    ]


async def test_get_delete_and_input_items(harness: Harness) -> None:
    client = harness.client()
    created = await client.responses.create(model="gpt-4o", input="keep me")
    fetched = await client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == "echo: keep me"
    items = await client.responses.input_items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    assert items.data[0].content[0].text == "keep me"
    await client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(created.id)
    async with aiohttp.ClientSession() as session:
        created = await client.responses.create(model="gpt-4o", input="again")
        headers = {"Authorization": f"Bearer {harness.key}"}
        async with session.delete(f"{harness.base_url}/responses/{created.id}", headers=headers) as reply:
            assert reply.status == 200
            assert await reply.json() == {"id": created.id, "object": "response.deleted", "deleted": True}


async def test_store_false_is_not_retrievable(harness: Harness) -> None:
    client = harness.client()
    created = await client.responses.create(model="gpt-4o", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(created.id)


async def test_another_accounts_key_gets_404(harness: Harness) -> None:
    created = await harness.client().responses.create(model="gpt-4o", input="mine")
    harness.db.create_account("other", low_balance_threshold=0, origin="test")
    harness.db.top_up("other", 1_000_000, origin="test")
    other_key, _ = harness.db.create_key("other", admin=False, origin="test")
    await harness.gateway.sync.poll()
    other = harness.client(other_key)
    with pytest.raises(openai.NotFoundError):
        await other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        await other.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        await other.responses.create(model="gpt-4o", input="steal", previous_response_id=created.id)
    # Still there for its owner.
    assert (await harness.client().responses.retrieve(created.id)).id == created.id


async def test_unsupported_tool_is_a_400(harness: Harness) -> None:
    with pytest.raises(openai.BadRequestError):
        await harness.client().responses.create(model="gpt-4o", input="x", tools=[{"type": "web_search"}])


@pytest.mark.parametrize(("field", "value"), [("background", True), ("conversation", "conv_1")])
async def test_unsupported_modes_are_a_400_naming_the_field(
    harness: Harness, field: str, value: object
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await harness.client().responses.create(model="gpt-4o", input="x", extra_body={field: value})
    assert raised.value.body["param"] == field
    assert harness.upstream.requests == []


async def test_unversioned_path_answers(harness: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {harness.key}"}
        body = {"model": "gpt-4o", "input": "root"}
        async with session.post(f"{harness.root_url}/responses", json=body, headers=headers) as reply:
            assert reply.status == 200
            assert (await reply.json())["output_text"] == "echo: root"


async def test_responses_are_billed_like_chat(harness: Harness) -> None:
    response = await harness.client().responses.create(model="gpt-4o", input="bill me now")
    assert response.usage is not None
    await assert_billed(harness, response.usage.input_tokens, response.usage.output_tokens)


async def test_a_failure_mid_stream_is_response_failed(harness: Harness) -> None:
    harness.upstream.fail_next.append("midstream")
    stream = await harness.client().responses.create(
        model="gpt-4o", input="a long enough answer", stream=True
    )
    events = [event async for event in stream]
    assert events[0].type == "response.created"
    assert events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    # A failed response is not stored.
    with pytest.raises(openai.NotFoundError):
        await harness.client().responses.retrieve(failed.id)


async def test_truncation_refuses_or_drops_the_earliest_turns(harness: Harness) -> None:
    client = harness.client()
    previous = None
    for turn in ("one", "two", "three"):
        reply = await client.responses.create(
            model="gpt-4o", input=f"{turn} " + "words " * 40, previous_response_id=previous
        )
        previous = reply.id
    model = harness.gateway.catalog.lookup("gpt-4o")
    assert model is not None
    saved = model.context_length
    # About 1200 bytes of messages: the three stored turns (about 1400) do not fit, two do.
    model.context_length = 300
    try:
        sent_before = len(harness.upstream.requests)
        for mode in ("disabled", None):
            extra = {"truncation": mode} if mode else {}
            with pytest.raises(openai.BadRequestError, match="truncation"):
                await client.responses.create(
                    model="gpt-4o", input="last question", previous_response_id=previous, **extra
                )
        assert len(harness.upstream.requests) == sent_before  # refused before any upstream call
        reply = await client.responses.create(
            model="gpt-4o", input="last question", previous_response_id=previous, truncation="auto"
        )
    finally:
        model.context_length = saved
    assert reply.output_text == "echo: last question" and reply.truncation == "auto"
    sent = harness.upstream.requests[-1]["messages"]
    assert len(sent) < 7  # the chain holds three turns of two messages, then this question
    assert sent[-1] == {"role": "user", "content": "last question"}
    assert sent[0]["role"] == "user" and not sent[0]["content"].startswith("one ")
