"""Every request leaves one record for the observers (metrics, request logs), failures included."""

from __future__ import annotations

import httpx
import openai
import pytest

from omnigate.telemetry.record import RequestRecord
from tests.e2e.conftest import INPUT_CREDITS_PER_TOKEN, OUTPUT_CREDITS_PER_TOKEN, PRICED_MODEL, Harness


class Collect:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def observe(self, record: RequestRecord) -> None:
        self.records.append(record)


@pytest.fixture
def seen(harness: Harness) -> Collect:
    collect = Collect()
    harness.gateway.observers.append(collect)
    return collect


async def test_a_settled_request_records_its_model_key_tokens_and_credits(
    harness: Harness, seen: Collect
) -> None:
    answer = await harness.client().chat.completions.create(
        model=PRICED_MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    [record] = seen.records
    assert (record.method, record.route, record.status) == ("POST", "/v1/chat/completions", 200)
    assert record.account_id == harness.account_id and harness.key.startswith(record.key_prefix or "-")
    # The harness names its upstream provider "primary".
    assert (record.model, record.provider, record.error_code) == (PRICED_MODEL, "primary", None)
    usage = answer.usage
    assert usage is not None
    assert (record.prompt_tokens, record.completion_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    tokens = (usage.prompt_tokens, usage.completion_tokens)
    assert record.credits == tokens[0] * INPUT_CREDITS_PER_TOKEN + tokens[1] * OUTPUT_CREDITS_PER_TOKEN
    assert record.duration_ms >= record.upstream_ms > 0


async def test_a_streamed_request_is_recorded_once_its_stream_has_ended(
    harness: Harness, seen: Collect
) -> None:
    stream = await harness.client().chat.completions.create(
        model=PRICED_MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    [record] = seen.records
    assert chunks[-1].usage is not None
    assert record.completion_tokens == chunks[-1].usage.completion_tokens
    assert record.status == 200 and record.credits > 0


async def test_refusals_and_unknown_routes_are_recorded_with_their_error(
    harness: Harness, seen: Collect
) -> None:
    hello = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as unknown_model:
        await harness.client().chat.completions.create(model="no-such-model", messages=hello)
    with pytest.raises(openai.AuthenticationError) as wrong_key:
        await harness.client(key="sk-wrong").chat.completions.create(model=PRICED_MODEL, messages=hello)
    async with httpx.AsyncClient() as http:
        missing = await http.get(harness.root_url + "/nowhere")
    assert missing.status_code == 404
    assert [(r.route, r.status, r.error_code) for r in seen.records] == [
        ("/v1/chat/completions", 404, unknown_model.value.code),
        ("/v1/chat/completions", 401, wrong_key.value.code),
        ("", 404, "http_404"),
    ]
    assert unknown_model.value.code and wrong_key.value.code  # the codes the clients were told
    assert seen.records[1].key_prefix is None and seen.records[1].credits == 0
