"""OpenAI's file-based batches end to end, driven by the official SDK: the input file uploaded,
the batch run by the task runner over the fake upstream, its output and error files read back,
each request charged once; on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import openai
import orjson
import pytest

from omnigate.store.batches import charge_entry_id
from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    PRICED_MODEL,
    STARTING_CREDITS,
    Harness,
    eventually,
)
from tests.responses.openapi_spec import load_spec

BATCH_SCHEMAS = Path(__file__).parents[1] / "responses" / "data" / "openai_batch_schemas.json"
CHAT = "/v1/chat/completions"


def line(custom_id: str, model: str = PRICED_MODEL, **body) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": CHAT,
        "body": {
            "model": model,
            "max_tokens": 8,
            "messages": [{"role": "user", "content": custom_id}],
            **body,
        },
    }


def jsonl(*lines: object) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in lines)


async def finished(client: openai.AsyncOpenAI, batch_id: str):
    async def done() -> bool:
        return (await client.batches.retrieve(batch_id)).status in ("completed", "cancelled", "expired")

    await eventually(done, timeout=30.0)
    return await client.batches.retrieve(batch_id)


def valid(body: dict, name: str = "Batch") -> None:
    load_spec(BATCH_SCHEMAS).validate(body, name)


async def test_a_chat_batch_writes_its_files_and_charges_each_request_once(harness: Harness) -> None:
    client = harness.client()
    sent = [line(f"q{n}") for n in range(4)]
    upload = await client.files.create(file=("in.jsonl", jsonl(*sent)), purpose="batch")
    harness.upstream.fail_next = [400]  # one request fails upstream: the error file, uncharged
    batch = await client.batches.create(
        input_file_id=upload.id, endpoint=CHAT, completion_window="24h", metadata={"run": "nightly"}
    )
    assert batch.id.startswith("batch_") and batch.object == "batch" and batch.status == "in_progress"
    assert batch.request_counts.total == 4 and batch.metadata == {"run": "nightly"}
    valid(batch.model_dump(exclude_none=True) | {"metadata": batch.metadata})

    final = await finished(client, batch.id)
    assert final.status == "completed" and final.completed_at and final.finalizing_at
    assert (final.request_counts.completed, final.request_counts.failed) == (3, 1)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.get(f"{harness.base_url}/batches/{batch.id}") as response:
            valid(await response.json())
        async with http.get(f"{harness.base_url}/batches") as response:
            listed = await response.json()
    valid(listed, "ListBatchesResponse")
    assert [b["id"] for b in listed["data"]] == [batch.id]
    assert [b.id for b in (await client.batches.list(limit=1)).data] == [batch.id]

    output = [
        orjson.loads(x)
        for x in (await (await client.files.content(final.output_file_id)).aread()).splitlines()
    ]
    errors = [
        orjson.loads(x)
        for x in (await (await client.files.content(final.error_file_id)).aread()).splitlines()
    ]
    assert len(output) == 3 and len(errors) == 1
    ids = [x["custom_id"] for x in output + errors]
    assert sorted(ids) == [s["custom_id"] for s in sent]
    assert [x["custom_id"] for x in output] == sorted(x["custom_id"] for x in output)  # input order
    for x in output:
        assert x["id"].startswith("batch_req_") and x["error"] is None
        assert x["response"]["status_code"] == 200
        assert x["response"]["body"]["object"] == "chat.completion"
    assert errors[0]["response"] is None and errors[0]["error"]["code"] and errors[0]["error"]["message"]
    assert (await client.files.retrieve(final.output_file_id)).purpose == "batch_output"

    await harness.flush()
    entries = {e.entry_id: e for e in harness.db.ledger_entries(harness.account_id)}
    charges = [e for e in entries if e.startswith(f"batch:{batch.id}:")]
    assert len(charges) == 3
    expected = 0
    for x in output:
        idx = [s["custom_id"] for s in sent].index(x["custom_id"])
        usage = x["response"]["body"]["usage"]
        cost = (
            usage["prompt_tokens"] * INPUT_CREDITS_PER_TOKEN
            + usage["completion_tokens"] * OUTPUT_CREDITS_PER_TOKEN
        )
        assert -entries[charge_entry_id(batch.id, idx)].amount == cost
        expected += cost
    assert harness.db.account(harness.account_id).balance == STARTING_CREDITS - expected

    with pytest.raises(openai.BadRequestError):  # ended: the gateway error body
        await client.batches.cancel(batch.id)


async def test_cancel_then_cancelled_with_the_unrun_requests_in_the_error_file(harness: Harness) -> None:
    harness.upstream.hang_seconds = 0.3
    harness.upstream.fail_next = ["hang"] * 12
    client = harness.client()
    upload = await client.files.create(
        file=("in.jsonl", jsonl(*(line(f"r{n}") for n in range(12)))), purpose="batch"
    )
    batch = await client.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    cancelling = await client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
    final = await finished(client, batch.id)
    assert final.status == "cancelled" and final.cancelled_at
    errors = (await (await client.files.content(final.error_file_id)).aread()).splitlines()
    codes = {orjson.loads(x)["error"]["code"] for x in errors}
    assert codes == {"batch_cancelled"} and final.request_counts.failed == len(errors) >= 1
    await harness.flush()
    charged = [e for e in harness.db.ledger_entries(harness.account_id) if e.entry_id.startswith("batch:")]
    assert len(charged) == final.request_counts.completed


async def test_another_account_gets_404(harness: Harness) -> None:
    client = harness.client()
    upload = await client.files.create(file=("in.jsonl", jsonl(line("a"))), purpose="batch")
    batch = await client.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    harness.db.create_account("others", low_balance_threshold=0, origin="test")
    other_key, _ = harness.db.create_key("others", admin=False, origin="test")
    await harness.gateway.sync.poll()
    other = harness.client(other_key)
    for call in (other.batches.retrieve, other.batches.cancel):
        with pytest.raises(openai.NotFoundError):
            await call(batch.id)
    assert (await other.batches.list()).data == []
    with pytest.raises(openai.NotFoundError):
        await other.batches.create(input_file_id=upload.id, endpoint=CHAT, completion_window="24h")
    await finished(client, batch.id)


@pytest.mark.parametrize(
    ("content", "body", "param", "text"),
    [
        (jsonl(line("a")), {"endpoint": "/v1/completions"}, "endpoint", "endpoint"),
        (jsonl(line("a")), {"completion_window": "1h"}, "completion_window", "completion_window"),
        (jsonl(line("a")), {"metadata": {"a": 1}}, "metadata", "metadata"),
        (jsonl(line("a")), {"requests": []}, "input_file_id", "not both"),
        (b"", {}, "input_file_id", "no requests"),
        (jsonl(line("a")) + b"{oops\n", {}, "input_file_id", "input_file_id line 2: not valid JSON"),
        (jsonl(line("a"), line("a")), {}, "input_file_id", "input_file_id line 2: custom_id"),
        (jsonl({**line("a"), "url": "/v1/embeddings"}), {}, "input_file_id", "input_file_id line 1: url"),
        (jsonl({**line("a"), "method": "GET"}), {}, "input_file_id", "input_file_id line 1: method"),
        (
            jsonl(line("a"), line("b"), line("c", "no-such-model")),
            {},
            "input_file_id",
            "input_file_id line 3: body.model",
        ),
        (jsonl(line("a", temperature=7)), {}, "input_file_id", "input_file_id line 1: body.temperature"),
        (jsonl(line("a", stream=True)), {}, "input_file_id", "input_file_id line 1: body.stream"),
        (jsonl({**line("a"), "body": {"model": PRICED_MODEL}}), {}, "input_file_id", "line 1: body.messages"),
    ],
)
async def test_bad_files_and_lines_are_a_400_naming_them(
    harness: Harness, content: bytes, body: dict, param: str, text: str
) -> None:
    upload = await harness.client().files.create(file=("in.jsonl", content), purpose="batch")
    sent = {"input_file_id": upload.id, "endpoint": CHAT, "completion_window": "24h", **body}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.post(f"{harness.base_url}/batches", json=sent) as response:
            status, error = response.status, await response.json()
    assert status == 400 and error["error"]["param"] == param and text in error["message"], error
    assert (await harness.client().batches.list()).data == []  # nothing stored
    assert harness.upstream.requests == []


async def test_a_file_not_for_batches_or_missing_is_refused(harness: Harness) -> None:
    client = harness.client()
    other = await client.files.create(file=("in.jsonl", jsonl(line("a"))), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        await client.batches.create(input_file_id=other.id, endpoint=CHAT, completion_window="24h")
    assert "input_file_id" in str(refused.value)
    with pytest.raises(openai.NotFoundError):
        await client.batches.create(input_file_id="file-missing", endpoint=CHAT, completion_window="24h")


async def test_an_embeddings_batch_on_the_local_model(local_harness: Harness) -> None:
    model = "local/all-minilm-l6-v2"
    client = local_harness.client()
    lines = [
        {
            "custom_id": f"e{n}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": model, "input": word},
        }
        for n, word in enumerate(("river", "mountain"))
    ]
    upload = await client.files.create(file=("in.jsonl", jsonl(*lines)), purpose="batch")
    batch = await client.batches.create(
        input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
    )
    final = await finished(client, batch.id)
    assert final.status == "completed" and final.request_counts.completed == 2 and final.error_file_id is None
    output = [
        orjson.loads(x)
        for x in (await (await client.files.content(final.output_file_id)).aread()).splitlines()
    ]
    assert [x["custom_id"] for x in output] == ["e0", "e1"]
    for x in output:
        body = x["response"]["body"]
        assert (
            body["object"] == "list" and body["model"] == model and len(body["data"][0]["embedding"]) == 384
        )
