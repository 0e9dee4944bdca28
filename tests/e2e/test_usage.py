"""The usage API through the real server: after known traffic on the fake upstream, /v2/usage,
/v2/logs, /v2/billing and /models/metrics show exactly that traffic, to its own account only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import openai
import pytest

from omnigate.store.rows import LoggedRequest
from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    PRICED_MODEL,
    STARTING_CREDITS,
    Harness,
)

HELLO = [{"role": "user", "content": "hello there gateway"}]


async def _traffic(harness: Harness, key: str | None = None) -> dict[str, int]:
    """Two plain answers, one streamed, one refused by the upstream, one for a model that does not
    exist; returns what they used."""
    client = harness.client(key)
    used = {"prompt_tokens": 0, "completion_tokens": 0}
    for _ in range(2):
        answer = await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
        assert answer.usage is not None
        used["prompt_tokens"] += answer.usage.prompt_tokens
        used["completion_tokens"] += answer.usage.completion_tokens
    stream = await client.chat.completions.create(
        model=PRICED_MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    last = chunks[-1].usage
    assert last is not None
    used["prompt_tokens"] += last.prompt_tokens
    used["completion_tokens"] += last.completion_tokens
    harness.upstream.fail_next = [400]
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="no-such-model", messages=HELLO)
    used["credits"] = (
        used["prompt_tokens"] * INPUT_CREDITS_PER_TOKEN + used["completion_tokens"] * OUTPUT_CREDITS_PER_TOKEN
    )
    await harness.flush()
    await harness.gateway.request_log.flush()
    return used


async def _get(harness: Harness, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=harness.root_url) as http:
        return await http.get(path, params=params, headers={"Authorization": f"Bearer {key or harness.key}"})


async def test_usage_and_logs_show_exactly_the_traffic_failures_included(harness: Harness) -> None:
    used = await _traffic(harness)
    usage = (await _get(harness, "/v2/usage", period="24h")).json()
    totals = usage["totals"]
    assert (totals["requests"], totals["failed"]) == (5, 2)
    assert totals["prompt_tokens"] == used["prompt_tokens"]
    assert totals["completion_tokens"] == used["completion_tokens"]
    assert totals["credits"] == used["credits"] == STARTING_CREDITS - harness.db.account("team").balance
    assert totals["usd_spent"] == used["credits"] / 2_000_000

    by_model = (await _get(harness, "/v2/usage", group_by="day,model", tz="Asia/Kolkata")).json()
    assert {(r["model"], r["requests"], r["failed"]) for r in by_model["data"]} == {
        (PRICED_MODEL, 4, 1),
        (None, 1, 1),  # the model that does not exist
    }
    assert all(len(r["day"]) == 10 for r in by_model["data"])
    detail = (await _get(harness, "/v2/usage/detail")).json()
    assert [r["key_prefix"] for r in detail["data"]] == [harness.key[:12]]

    rows, cursor = [], None
    while True:
        page = (await _get(harness, "/v2/logs", limit=3, **({"cursor": cursor} if cursor else {}))).json()
        rows += page["data"]
        cursor = page["pagination"]["next_cursor"]
        if not page["pagination"]["has_more"]:
            break
    assert [r["status"] for r in rows] == [404, 400, 200, 200, 200]  # newest first
    unknown, refused, streamed = rows[:3]
    assert (unknown["model"], unknown["error_code"]) == (None, "model_not_found")
    assert refused["model"] == PRICED_MODEL and refused["error_code"] and refused["credits"] == 0
    assert [r["stream"] for r in rows] == [False, False, True, False, False]
    assert streamed["ttft_ms"] is not None and streamed["ttft_ms"] <= streamed["duration_ms"]
    assert sum(r["credits"] for r in rows) == used["credits"]
    assert len({r["request_id"] for r in rows}) == 5


async def test_billing_shows_the_balance_and_pages_the_ledger(harness: Harness) -> None:
    used = await _traffic(harness)
    billing = (await _get(harness, "/v2/billing")).json()
    assert billing["currency"] == "USD"
    assert billing["credits"] == STARTING_CREDITS - used["credits"]
    assert billing["current_balance"] == billing["credits"] / 2_000_000
    entries, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await _get(harness, "/v2/billing/transactions", **params)).json()
        entries += page["data"]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert [e["kind"] for e in entries] == ["charge", "charge", "charge", "topup"]
    assert sum(e["credits"] for e in entries) == billing["credits"]
    assert entries[-1]["amount"] == STARTING_CREDITS / 2_000_000


async def test_another_account_sees_nothing_and_admins_see_any(harness: Harness) -> None:
    await _traffic(harness)
    harness.db.create_account("other", low_balance_threshold=0, origin="test")
    other_key, _ = harness.db.create_key("other", admin=False, origin="test")
    usage = (await _get(harness, "/v2/usage", other_key)).json()
    assert usage["account"] == "other" and usage["totals"]["requests"] == 0
    assert (await _get(harness, "/v2/logs", other_key)).json()["data"] == []
    assert (await _get(harness, "/v2/billing/transactions", other_key)).json()["data"] == []
    peeking = await _get(harness, "/v2/logs", other_key, account="team")
    assert peeking.status_code == 403 and peeking.json()["error"]["param"] == "account"

    as_admin = (await _get(harness, "/v2/usage", harness.admin_key, account="team")).json()
    assert as_admin["account"] == "team" and as_admin["totals"]["requests"] == 5
    logs = (await _get(harness, "/v2/logs", harness.admin_key, account="other")).json()
    assert logs["account"] == "other" and logs["data"] == []
    missing = await _get(harness, "/v2/usage", harness.admin_key, account="nobody")
    assert missing.status_code == 404


async def test_model_metrics_measure_the_traffic_without_a_key(harness: Harness) -> None:
    await _traffic(harness)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(harness.root_url + "/models/metrics")).json()
    [model] = [m for m in metrics["data"] if m["model"] == PRICED_MODEL]
    assert model["requests"] == 3  # the refused request is not a measurement
    assert set(model["duration_ms"]) == {"p50", "p75", "p90", "p99"}
    assert model["duration_ms"]["p50"] <= model["duration_ms"]["p99"]
    assert model["ttft_ms"] is not None and model["tps"] is not None


BAD_PARAMETERS: list[tuple[str, dict[str, str], str]] = [
    ("/v2/usage", {"period": "3d"}, "period"),
    ("/v2/usage", {"period": "24h", "start": "2026-12-01"}, "period"),
    ("/v2/usage", {"start": "2026-12-01"}, "end"),
    ("/v2/usage", {"start": "yesterday", "end": "2026-12-01"}, "start"),
    ("/v2/usage", {"start": "2026-01-01", "end": "2026-12-01"}, "end"),  # more than 92 days
    ("/v2/usage", {"start": "2026-12-02", "end": "2026-12-01"}, "end"),
    ("/v2/usage", {"group_by": "week"}, "group_by"),
    ("/v2/usage/detail", {"tz": "Mars/Olympus_Mons"}, "tz"),
    ("/v2/usage", {"key_prefix": "x" * 33}, "key_prefix"),
    ("/v2/logs", {"limit": "0"}, "limit"),
    ("/v2/logs", {"limit": "²"}, "limit"),
    ("/v2/logs", {"cursor": "not-a-cursor"}, "cursor"),
    ("/v2/billing/transactions", {"limit": "101"}, "limit"),
    ("/v2/billing/transactions", {"cursor": "eA"}, "cursor"),
]


async def test_bad_parameters_are_400s_naming_the_field(harness: Harness) -> None:
    for path, params, field in BAD_PARAMETERS:
        response = await _get(harness, path, **params)
        assert (response.status_code, response.json()["error"]["param"]) == (400, field), (path, params)


async def test_days_are_local_to_tz_half_hour_offsets_included(harness: Harness) -> None:
    # Rows placed at known instants around Kolkata's (UTC+5:30) midnights.
    stamps = [
        "2026-11-30T18:00",
        "2026-11-30T18:45",
        "2026-12-01T18:29",
        "2026-12-01T18:31",
        "2026-12-02T18:31",
    ]
    harness.db.write_request_log(
        [
            LoggedRequest(
                request_id=f"r{n}",
                created_at=datetime.fromisoformat(stamp + "Z"),
                account_id=harness.account_id,
                key_prefix=harness.key[:12],
                method="POST",
                route="/v1/chat/completions",
                model=PRICED_MODEL,
                provider="primary",
                status=200,
                error_code=None,
                stream=False,
                prompt_tokens=1,
                completion_tokens=1,
                credits=6,
                duration_ms=1.0,
                ttft_ms=None,
                overhead_ms=0.5,
            )
            for n, stamp in enumerate(stamps)
        ]
    )
    # Whole local days: 1 and 2 December in Kolkata, 2026-11-30T18:30Z to 2026-12-02T18:30Z.
    usage = (
        await _get(
            harness, "/v2/usage", start="2026-12-01", end="2026-12-02", tz="Asia/Kolkata", group_by="day"
        )
    ).json()
    assert (usage["start"], usage["end"]) == ("2026-11-30T18:30:00.000000Z", "2026-12-02T18:30:00.000000Z")
    assert [(r["day"], r["requests"]) for r in usage["data"]] == [("2026-12-01", 2), ("2026-12-02", 1)]
    assert usage["totals"]["credits"] == 18
