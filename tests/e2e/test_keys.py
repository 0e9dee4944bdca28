"""Keys over HTTP (the service's /v1/keys routes), their limits, budgets and scopes, end to end."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.conftest import PRICED_MODEL, Harness, eventually
from tests.e2e.test_accounts import _cli

HELLO = [{"role": "user", "content": "hello"}]


async def _call(harness: Harness, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http,
        http.request(method, harness.base_url + path, json=body) as response,
    ):
        return response.status, await response.json()


async def test_a_key_made_over_http_works_at_once_with_its_settings(harness: Harness) -> None:
    status, created = await _call(
        harness,
        "POST",
        "/keys",
        harness.admin_key,
        {
            "name": "ci",
            "account": "team",
            "limit": {"retention": "day", "threshold": 0.5},
            "scopes": ["model:chat"],
            "rate_limits": {"rpm": 100},
        },
    )
    assert status == 201
    data = created["data"]
    assert data["limit"] == {"retention": "day", "threshold": 0.5}
    assert data["scopes"] == ["model:chat"] and data["rate_limits"]["rpm"] == 100
    assert data["key"].startswith(data["prefix"]) and data["monthly_usage"] == 0
    client = harness.client(key=data["key"])
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
    # Its scopes leave out embeddings.
    with pytest.raises(openai.PermissionDeniedError, match="model:embeddings"):
        await client.embeddings.create(model="text-embedding-3-small", input="x")

    status, listing = await _call(harness, "GET", "/keys", harness.admin_key)
    mine = next(k for k in listing["data"] if k["prefix"] == data["prefix"])
    await harness.flush()
    status, own = await _call(harness, "GET", "/key", data["key"])
    assert status == 200 and own["data"]["prefix"] == data["prefix"] and "key" not in own["data"]
    assert own["data"]["monthly_usage"] > 0 and "key" not in mine

    status, deleted = await _call(harness, "DELETE", f"/keys/{data['prefix']}", harness.admin_key)
    assert deleted == {"data": {"prefix": data["prefix"], "deleted": True}}
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)


async def test_key_routes_need_an_admin_key_and_check_bodies(harness: Harness) -> None:
    status, _ = await _call(harness, "POST", "/keys", harness.key, {})
    assert status == 403
    for body, param in (
        ({"limit": {"retention": "hourly", "threshold": 1}}, "limit.retention"),
        ({"limit": {"threshold": -1}}, "limit.threshold"),
        ({"scopes": ["model:everything"]}, "scopes"),
        ({"rate_limits": {"rpm": 0}}, "rate_limits.rpm"),
        ({"rate_limits": {"rpm": True}}, "rate_limits.rpm"),
    ):
        status, error = await _call(harness, "POST", "/keys", harness.admin_key, body)
        assert (status, error["error"]["param"]) == (400, param)


async def test_past_its_rate_limit_a_key_gets_429_with_retry_after(harness: Harness) -> None:
    status, created = await _call(
        harness, "POST", "/keys", harness.admin_key, {"account": "team", "rate_limits": {"rpm": 2}}
    )
    client = harness.client(key=created["data"]["key"])
    for _ in range(2):
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as refused:
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
    assert 29 <= int(refused.value.response.headers["Retry-After"]) <= 30
    assert "2 requests per minute" in refused.value.message
    # The limit changes under the running server: an admin lifts it.
    prefix = created["data"]["prefix"]
    status, _ = await _call(
        harness, "PATCH", f"/keys/{prefix}", harness.admin_key, {"rate_limits": {"rpm": None}}
    )
    assert status == 200
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)


async def test_a_budget_stops_a_key_before_it_overspends(harness: Harness) -> None:
    # Each call reserves its worst case: body bytes at the input rate plus 5 tokens of output.
    status, created = await _call(
        harness,
        "POST",
        "/admin/keys",
        harness.admin_key,
        {"account": "team", "budget": 1_000, "budget_period": "month"},
    )
    assert status == 201
    client = harness.client(key=created["key"])
    spent = 0
    with pytest.raises(openai.RateLimitError, match="monthly spending limit") as refused:
        for _ in range(200):
            reply = await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, max_tokens=5)
            spent += reply.model_extra["meta"]["usage"]["tokens_used"]
    assert 0 < spent <= 1_000
    assert int(refused.value.response.headers["Retry-After"]) > 0
    await harness.flush()
    charged = -sum(
        e.amount for e in harness.db.ledger_entries(harness.account_id) if e.key_prefix == created["prefix"]
    )
    assert charged == spent


async def test_concurrency_limit_of_an_account(harness: Harness) -> None:
    status, _ = await _call(harness, "PATCH", "/admin/accounts/team", harness.admin_key, {"concurrency": 1})
    assert status == 200
    harness.upstream.chunk_delay = 0.2
    client = harness.client()
    stream = await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO, stream=True)
    with pytest.raises(openai.RateLimitError, match="1 requests at once"):
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    async for _ in stream:
        pass
    # The slot is free once the stream ended.
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)


async def test_a_key_made_by_the_cli_answers_its_first_request(harness: Harness) -> None:
    for _ in range(3):
        key = (await asyncio.to_thread(_cli, harness, "keys", "create", "--account", "team")).strip()
        # No waiting: the server looks up a key it has not seen yet.
        reply = await harness.client(key=key).chat.completions.create(model=PRICED_MODEL, messages=HELLO)
        assert reply.choices[0].message.content


async def test_cli_limits_reach_the_running_server(harness: Harness) -> None:
    key = (
        await asyncio.to_thread(_cli, harness, "keys", "create", "--account", "team", "--rpm", "1")
    ).strip()
    client = harness.client(key=key)
    await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    updated = await asyncio.to_thread(_cli, harness, "keys", "update", key[:12], "--rpm", "none")
    assert "no limits" in updated

    async def admitted() -> bool:
        try:
            await client.chat.completions.create(model=PRICED_MODEL, messages=HELLO)
            return True
        except openai.RateLimitError:
            return False

    await eventually(admitted, timeout=1.0)


async def test_made_up_keys_are_refused_without_a_database_flood(harness: Harness) -> None:
    keys = harness.gateway.keys
    before = keys.lookups
    made_up = "og-" + "A" * 43
    for key in [made_up] * 20 + ["og-short", "sk-not-ours"]:
        assert not await _status_ok(harness, key)
    # The well-formed unknown key was looked up once; the malformed ones never.
    assert keys.lookups == before + 1


async def _status_ok(harness: Harness, key: str) -> bool:
    status, body = await _call(harness, "GET", "/billing/balance", key)
    assert status in (200, 401), body
    return status == 200


async def test_a_retried_top_up_counts_once(harness: Harness) -> None:
    before = harness.db.account(harness.account_id).balance
    headers = {"Authorization": f"Bearer {harness.admin_key}", "Idempotency-Key": "order-42"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for expected in (True, False):
            async with http.post(
                harness.base_url + "/admin/accounts/team/topup", json={"credits": 900}
            ) as response:
                body = await response.json()
                assert response.status == 200 and body["applied"] is expected
    assert harness.db.account(harness.account_id).balance == before + 900
    assert (await _call(harness, "GET", "/billing/balance", harness.key))[1]["balance"] == before + 900
