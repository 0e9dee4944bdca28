"""The fake Cohere upstream, read by the official `cohere` SDK: it must speak the real protocol."""

from __future__ import annotations

import json
from typing import Any

import cohere
import pytest

from tests.providers.cohere.fake_upstream import TOOL_ARGUMENTS, FakeCohereUpstream
from tests.providers.cohere.fidelity import FidelityError, check_request, check_stream_event

# The SDK's own union parsing still reads pydantic v1's __fields__; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated")

# Plain dicts, as SDK users write them; the SDK's hints name its own model classes.
HI: Any = [{"role": "user", "content": "hi there"}]
X: Any = [{"role": "user", "content": "x"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def sdk(fake: FakeCohereUpstream, key: str = "co-fake") -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key=key, base_url=fake.base_url)


async def test_sdk_reads_a_text_answer(fake: FakeCohereUpstream) -> None:
    answer = await sdk(fake).chat(model="command-a-03-2025", messages=HI)
    assert answer.finish_reason == "COMPLETE"
    assert answer.message.content is not None
    assert answer.message.content[0].text == "echo: hi there"  # type: ignore[union-attr]
    assert answer.usage is not None and answer.usage.tokens is not None
    assert answer.usage.tokens.input_tokens == 2
    assert fake.headers[-1]["authorization"] == "Bearer co-fake"


async def test_sdk_reads_a_streamed_tool_call_with_thinking(fake: FakeCohereUpstream) -> None:
    events = [
        event
        async for event in sdk(fake).chat_stream(
            model="command-a-03-2025",
            messages=[{"role": "user", "content": "weather?"}],  # type: ignore[list-item]
            tools=[WEATHER],
            tool_choice="REQUIRED",
            thinking={"type": "enabled", "token_budget": 1024},  # type: ignore[arg-type]
        )
    ]
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    assert {"content-delta", "tool-plan-delta", "tool-call-start", "tool-call-delta"} <= set(kinds)
    arguments = "".join(
        e.delta.message.tool_calls.function.arguments or ""  # type: ignore[union-attr]
        for e in events
        if e.type == "tool-call-delta"
    )
    assert json.loads(arguments) == json.loads(TOOL_ARGUMENTS)
    assert events[-1].delta.finish_reason == "TOOL_CALL"  # type: ignore[union-attr]


async def test_sdk_sees_cohere_errors(fake: FakeCohereUpstream) -> None:
    with pytest.raises(cohere.UnauthorizedError):
        await sdk(fake, key="wrong").chat(model="m", messages=X)
    fake.fail_next.append(429)
    with pytest.raises(cohere.TooManyRequestsError) as caught:
        await sdk(fake).chat(
            model="m",
            messages=X,
            request_options={"max_retries": 0},  # the SDK would retry a 429 on its own
        )
    assert "Trial key" in caught.value.body["message"]


def test_checks_reject_drift() -> None:
    ok = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    check_request(ok)
    for bad in (
        {**ok, "top_p": 0.5},  # OpenAI's name; Cohere's is p
        {**ok, "messages": [{"role": "user", "content": "x", "name": "bob"}]},
        {**ok, "messages": [{"role": "developer", "content": "x"}]},
        {**ok, "tool_choice": "required"},
        {**ok, "k": 40.0},
        {**ok, "tools": [{"type": "function", "function": {"name": "f"}}]},  # parameters required
    ):
        with pytest.raises(FidelityError):
            check_request(bad)
    with pytest.raises(FidelityError):
        check_stream_event({"type": "content-delta", "index": 0, "delta": {"text": "misplaced"}})
    with pytest.raises(FidelityError):
        check_stream_event({"type": "message-end", "delta": {"finish_reason": "DONE"}})
