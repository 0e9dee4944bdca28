"""The fake Anthropic API read by the official anthropic SDK, and the checks that keep it honest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

from tests.providers.anthropic.fake_anthropic import API_KEY, FakeAnthropicUpstream
from tests.providers.anthropic.sdk_check import FidelityError, check_request, checked_event, checked_message

MODEL = "claude-3-haiku-20240307"
TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture
async def sdk(fake: FakeAnthropicUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()


async def test_sdk_reads_text_tool_and_thinking_answers(sdk: anthropic.AsyncAnthropic) -> None:
    text = await sdk.messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert text.content[0].type == "text" and text.content[0].text == "echo: hello"
    tool = await sdk.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[TOOL],
        tool_choice={"type": "any"},
    )
    assert tool.stop_reason == "tool_use" and tool.content[0].type == "tool_use"
    assert tool.content[0].input == {"city": "Paris"}
    thinking = await sdk.messages.create(
        model=MODEL,
        max_tokens=2000,
        messages=[{"role": "user", "content": "hmm"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in thinking.content] == ["thinking", "text"]


async def test_sdk_accumulates_the_stream(sdk: anthropic.AsyncAnthropic) -> None:
    async with sdk.messages.stream(
        model=MODEL,
        max_tokens=2000,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[0].thinking == "thinking about: weather?"
    assert final.content[1].input == {"city": "Paris"}
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, anthropic.BadRequestError), (429, anthropic.RateLimitError), (529, anthropic.InternalServerError)],
)
async def test_sdk_reads_errors(
    fake: FakeAnthropicUpstream,
    sdk: anthropic.AsyncAnthropic,
    status: int,
    error: type[anthropic.APIStatusError],
) -> None:
    fake.fail_next.append(status)
    with pytest.raises(error) as caught:
        await sdk.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == status


async def test_fake_enforces_what_the_api_enforces(
    fake: FakeAnthropicUpstream, sdk: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="alternate"):
        await sdk.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        )
    with pytest.raises(anthropic.BadRequestError, match="do not answer"):
        await sdk.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[
                {"role": "user", "content": "a"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
                },
                {"role": "user", "content": "b"},
            ],
        )


def test_request_check_rejects_unknown_and_misspelled_keys() -> None:
    good = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    check_request(good)
    with pytest.raises(FidelityError, match="keys unknown"):
        check_request({**good, "stop": ["x"]})
    with pytest.raises(FidelityError, match="requires"):
        check_request({"model": MODEL, "messages": good["messages"]})
    with pytest.raises(FidelityError, match="keys unknown to TextBlockParam"):
        check_request({**good, "messages": [{"role": "user", "content": [{"type": "text", "txt": "hi"}]}]})
    with pytest.raises(FidelityError, match="expected an integer"):
        check_request({**good, "max_tokens": 10.5})


def test_response_checks_reject_extras() -> None:
    with pytest.raises(FidelityError, match="fields unknown"):
        checked_event({"type": "content_block_stop", "index": 0, "extra": 1})
    with pytest.raises(FidelityError, match="rejected"):
        checked_event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}})
    with pytest.raises(FidelityError):
        checked_message({"id": "m", "type": "message", "role": "assistant", "content": []})
