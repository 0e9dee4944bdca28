"""Message batches end to end: the real server and its task runner, a fake OpenAI upstream for
every chat model, the money each request moves; on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import orjson
import pytest

from omnigate.api.batch_entry import run_entry
from omnigate.store.batches import charge_entry_id
from omnigate.store.keys import visible_prefix
from omnigate.store.rows import LedgerEntry
from omnigate.store.timestamps import now
from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    PRICED_MODEL,
    STARTING_CREDITS,
    Harness,
    eventually,
)

# Served by the catch-all route (free here): a batch is not only for one provider's models.
OTHER_MODEL = "claude-3-5-haiku-20241022"


async def call(harness: Harness, method: str, path: str, *, key: str | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {key or harness.key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, harness.root_url + path, **kwargs) as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def request(custom_id: str, model: str = PRICED_MODEL, **params) -> dict:
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": f"Say {custom_id}"}],
            **params,
        },
    }


async def create(harness: Harness, requests: list[dict]) -> dict:
    status, _, body = await call(harness, "POST", "/v1/batches", json={"requests": requests})
    assert status == 200, body
    return orjson.loads(body)


async def ended(harness: Harness, batch_id: str) -> dict:
    async def done() -> bool:
        status, _, body = await call(harness, "GET", f"/v1/batches/{batch_id}")
        return status == 200 and orjson.loads(body)["processing_status"] == "ended"

    await eventually(done, timeout=30.0)
    _, _, body = await call(harness, "GET", f"/v1/batches/{batch_id}")
    return orjson.loads(body)


async def results(harness: Harness, batch_id: str) -> list[dict]:
    status, content_type, body = await call(harness, "GET", "/batches", params={"batch_id": batch_id})
    assert status == 200 and content_type == "application/jsonl", body
    return [orjson.loads(line) for line in body.splitlines()]


async def test_every_request_runs_through_chat_and_is_charged_once(harness: Harness) -> None:
    sent = [request(f"req-{n}") for n in range(5)] + [request("other", OTHER_MODEL)]
    batch = await create(harness, sent)
    assert batch["id"].startswith("msgbatch_") and batch["type"] == "message_batch"
    assert batch["processing_status"] == "in_progress" and batch["results_url"] is None
    assert sum(batch["request_counts"].values()) == 6

    final = await ended(harness, batch["id"])
    assert final["request_counts"] == {
        "processing": 0,
        "succeeded": 6,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert final["ended_at"] and final["results_url"].endswith(f"/v1/batches?batch_id={batch['id']}")
    lines = await results(harness, batch["id"])
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in sent]
    assert {line["result"]["type"] for line in lines} == {"succeeded"}
    messages = [line["result"]["message"] for line in lines]
    assert all(m["type"] == "message" and m["role"] == "assistant" and m["content"] for m in messages)
    # Each went through the chat road, translated: the upstream saw OpenAI chat bodies.
    assert len(harness.upstream.requests) == 6
    assert all(body["max_tokens"] == 16 for body in harness.upstream.requests)

    await harness.flush()
    entries = {e.entry_id: e for e in harness.db.ledger_entries(harness.account_id)}
    expected = 0
    for idx, message in enumerate(messages):
        entry = entries[charge_entry_id(batch["id"], idx)]
        usage = message["usage"]
        cost = (
            usage["input_tokens"] * INPUT_CREDITS_PER_TOKEN
            + usage["output_tokens"] * OUTPUT_CREDITS_PER_TOKEN
        )
        cost = cost if idx < 5 else 0  # the other model is unpriced and served free here
        assert (-entry.amount, entry.prompt_tokens, entry.completion_tokens) == (
            cost,
            usage["input_tokens"],
            usage["output_tokens"],
        )
        expected += cost
    assert len([e for e in entries if e.startswith(f"batch:{batch['id']}:")]) == 6
    account = harness.db.account(harness.account_id)
    assert account.balance == STARTING_CREDITS - expected == harness.db.ledger_sum(harness.account_id)


async def test_cancel_stops_the_requests_not_yet_run_and_a_finished_batch_refuses_it(
    harness: Harness,
) -> None:
    # Each answer takes a moment, so most requests are still queued when the cancel comes.
    harness.upstream.hang_seconds = 0.3
    harness.upstream.fail_next = ["hang"] * 12
    batch = await create(harness, [request(f"r{n}") for n in range(12)])
    status, _, body = await call(harness, "POST", f"/v1/batches/cancel/{batch['id']}")
    assert status == 200, body
    canceling = orjson.loads(body)
    assert canceling["processing_status"] in ("canceling", "ended") and canceling["cancel_initiated_at"]

    final = await ended(harness, batch["id"])
    counts = final["request_counts"]
    assert counts["canceled"] >= 1 and counts["succeeded"] + counts["canceled"] == 12
    lines = await results(harness, batch["id"])
    assert {line["result"]["type"] for line in lines} <= {"succeeded", "canceled"}
    assert [line["result"] for line in lines if line["result"]["type"] == "canceled"] == [
        {"type": "canceled"}
    ] * counts["canceled"]
    await harness.flush()
    charged = [e for e in harness.db.ledger_entries(harness.account_id) if e.entry_id.startswith("batch:")]
    assert len(charged) == counts["succeeded"]

    status, _, body = await call(harness, "POST", f"/batches/cancel/{batch['id']}")
    error = orjson.loads(body)
    assert status == 400 and error["statusCode"] == 400
    assert error["path"] == f"/batches/cancel/{batch['id']}" and error["requestId"] and error["timestamp"]
    assert "already finished processing" in error["message"] and error["error"]["param"] == "batch_id"


async def test_another_account_gets_404(harness: Harness) -> None:
    batch = await create(harness, [request("mine")])
    harness.db.create_account("others", low_balance_threshold=0, origin="test")
    other_key, _ = harness.db.create_key("others", admin=False, origin="test")
    for method, path, params in [
        ("GET", "/v1/batches", {"batch_id": batch["id"]}),
        ("GET", f"/v1/batches/{batch['id']}", None),
        ("POST", f"/v1/batches/cancel/{batch['id']}", None),
    ]:
        status, _, body = await call(harness, method, path, key=other_key, params=params)
        assert status == 404, body
    status, _, body = await call(harness, "GET", "/v1/batches/msgbatch_nothing")
    assert status == 404
    await ended(harness, batch["id"])


def _requests(*items: object) -> dict:
    return {"requests": list(items)}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "requests"),
        (_requests(), "requests"),
        ({"requests": "all of them"}, "requests"),
        (_requests(request("a"), "not an object"), "requests[1]"),
        (
            _requests(request("a"), {"custom_id": "b", "params": {"max_tokens": 5, "messages": []}}),
            "requests[1].params.messages",
        ),
        (
            _requests(
                request("a"), {"custom_id": "b", "params": {"messages": [{"role": "user", "content": "x"}]}}
            ),
            "requests[1].params.model",
        ),
        (_requests(request("a", "no-such-model")), "requests[0].params.model"),
        (_requests(request("a", "text-embedding-3-small")), "requests[0].params.model"),
        (_requests(request("a b")), "requests[0].custom_id"),
        (_requests(request("a"), request("a")), "requests[1].custom_id"),
        (_requests({"custom_id": "a", "params": [1]}), "requests[0].params"),
        (_requests(request("a", max_tokens=0)), "requests[0].params.max_tokens"),
        (_requests(request("a", stream=True)), "requests[0].params.stream"),
        (_requests(request("a", temperature=7)), "requests[0].params.temperature"),
        (  # both kinds at once
            {**_requests(request("a")), "input_file_id": "file-abc", "endpoint": "/v1/chat/completions"},
            "input_file_id",
        ),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(harness: Harness, body: dict, param: str) -> None:
    status, _, raw = await call(harness, "POST", "/v1/batches", json=body)
    error = orjson.loads(raw)
    assert status == 400, error
    assert error["error"]["param"] == param and param in error["message"], error
    assert harness.upstream.requests == []


async def test_limits_on_requests_and_size(harness: Harness) -> None:
    harness.gateway.settings.batches.max_requests = 3
    status, _, raw = await call(
        harness, "POST", "/v1/batches", json=_requests(*(request(f"r{n}") for n in range(4)))
    )
    assert status == 400 and orjson.loads(raw)["error"]["param"] == "requests"
    assert "at most 3 requests" in orjson.loads(raw)["message"]
    harness.gateway.settings.batches.max_body_mb = 0.001  # about 1 KB
    big = request("big")
    big["params"]["messages"][0]["content"] = "x" * 2000
    status, _, raw = await call(harness, "POST", "/v1/batches", json=_requests(big))
    assert status == 413 and orjson.loads(raw)["error"]["param"] == "requests"
    # Without batch_id, the list of OpenAI batches, which message batches are not.
    status, _, raw = await call(harness, "GET", "/v1/batches")
    assert status == 200 and orjson.loads(raw)["data"] == [], raw


async def test_a_request_answered_before_its_runner_died_is_charged_once_and_not_run_again(
    harness: Harness,
) -> None:
    """What a runner that takes over finds: a request answered and kept, whose charge never
    reached the ledger (charged now, once), and one whose charge did (only ended)."""
    db = harness.db
    db.insert_batch(
        batch_id="msgbatch_leftover",
        account_id=harness.account_id,
        key_prefix=visible_prefix(harness.key),
        request_id="req-left",
        expires_at=now() + timedelta(hours=1),
        requests=[("lost", "{}"), ("replayed", "{}")],
    )
    lost, replayed = db.claim_batch_entries("dead", limit=2, lease_s=0.05, settle_after_s=60)
    for entry, cost in ((lost, 100), (replayed, 50)):
        assert db.entry_answered(
            entry,
            "dead",
            result='{"type":"succeeded"}',
            cost=cost,
            model=PRICED_MODEL,
            prompt_tokens=1,
            completion_tokens=1,
        )
    await asyncio.sleep(0.1)  # the dead runner's leases run out

    taken = {e.custom_id: e for e in db.claim_batch_entries("next", limit=2, lease_s=60, settle_after_s=0)}
    await run_entry(harness.gateway, taken["lost"], "next")
    await harness.flush()
    assert db.ledger_amount(charge_entry_id("msgbatch_leftover", 0)) == -100
    _, _, body = await call(harness, "GET", "/v1/billing/balance")
    assert orjson.loads(body)["balance"] == STARTING_CREDITS - 100 == db.account(harness.account_id).balance

    # The other one's charge reached the ledger (the dead process's outbox, replayed).
    db.write_ledger(
        [
            LedgerEntry(
                entry_id=charge_entry_id("msgbatch_leftover", 1),
                account_id=harness.account_id,
                amount=-50,
                kind="charge",
            )
        ],
        origin="dead",
    )
    await run_entry(harness.gateway, taken["replayed"], "next")
    assert db.ledger_amount(charge_entry_id("msgbatch_leftover", 1)) == -50
    assert (
        db.account(harness.account_id).balance == STARTING_CREDITS - 150 == db.ledger_sum(harness.account_id)
    )
    batch = db.batch("msgbatch_leftover")
    assert batch.status == "ended" and batch.counts == {"succeeded": 2}
    assert harness.upstream.requests == []  # neither ran again
