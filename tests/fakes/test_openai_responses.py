"""The fake upstream's Responses endpoint, driven by the official OpenAI SDK: the SDK must read
every answer and event it sends, and the fake must refuse what OpenAI refuses."""

from __future__ import annotations

import json

import openai
import pytest

from .openai_responses import check_event, check_request
from .openai_upstream import CHUNK_CHARS, FakeOpenAIUpstream, FidelityError

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}


async def test_text_answer_and_usage(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model="gpt-4o", input="hello there", instructions="be brief")
    assert response.output_text == "echo: hello there" and response.status == "completed"
    assert response.usage is not None
    assert response.usage.input_tokens == 4  # "be brief" + "hello there"
    assert response.usage.output_tokens == len("echo: hello there") // CHUNK_CHARS + 1


async def test_stream_of_a_tool_call(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model="gpt-4o", input="call tool", tools=[TOOL], stream=True)
    events = [event async for event in stream]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    arguments = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(arguments) == {"city": "Paris"}
    final = events[-1]
    assert final.type == "response.completed" and final.response.output[0].type == "function_call"


async def test_reasoning_item_and_its_encrypted_content(client: openai.AsyncOpenAI) -> None:
    plain = await client.responses.create(model="o3", input="x", reasoning={"effort": "low"})
    assert plain.output[0].type == "reasoning" and plain.output[0].encrypted_content is None
    kept = await client.responses.create(
        model="o3", input="x", reasoning={"effort": "low"}, include=["reasoning.encrypted_content"]
    )
    assert kept.output[0].encrypted_content


async def test_store_false_refuses_item_ids_and_previous_ids(client: openai.AsyncOpenAI) -> None:
    earlier = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
    }
    with pytest.raises(openai.NotFoundError, match="Items are not persisted"):
        await client.responses.create(model="gpt-4o", input=[earlier], store=False)
    with pytest.raises(openai.NotFoundError, match="Previous response"):
        await client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_1", store=False)
    # Stored (the default), the same input is fine: the fake does not check what it "kept".
    assert (await client.responses.create(model="gpt-4o", input=[earlier])).status == "completed"


@pytest.mark.parametrize(("failure", "last"), [("failed_event", "response.failed"), ("error_event", "error")])
async def test_queued_stream_failures(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI, failure: str, last: str
) -> None:
    fake.fail_next.append(failure)
    stream = await client.responses.create(model="gpt-4o", input="x", stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["response.created", "response.in_progress", last]


def test_request_check_catches_unknown_and_mistyped_fields() -> None:
    check_request(
        {"model": "gpt-4o", "input": "x", "store": False, "tools": [{"type": "function", "name": "f"}]}
    )
    with pytest.raises(FidelityError, match="dropped or changed"):
        check_request({"model": "gpt-4o", "input": "x", "stor": False})
    with pytest.raises(FidelityError, match="dropped or changed"):
        check_request({"model": "gpt-4o", "input": [{"role": "user", "content": "x", "id": "msg_1"}]})
    with pytest.raises(FidelityError, match="rejected"):
        check_request({"model": "gpt-4o", "input": "x", "max_output_tokens": "5"})


def test_event_check_catches_unknown_fields() -> None:
    event = {"type": "response.output_text.delta", "sequence_number": 0, "item_id": "m", "output_index": 0}
    event |= {"content_index": 0, "delta": "x", "logprobs": []}
    check_event(event)
    with pytest.raises(FidelityError):
        check_event({**event, "extra": 1})
