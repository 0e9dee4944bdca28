"""Models listing, balance, admin routes, and admin actions reaching a running server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp
import openai
import pytest

from tests.e2e.conftest import STARTING_CREDITS, Harness, eventually


async def test_models_listings(harness: Harness) -> None:
    page = await harness.client().models.list()
    ids = {m.id for m in page.data}
    assert {"gpt-4o", "claude-3-haiku-20240307", "flux/schnell"} <= ids
    async with aiohttp.ClientSession() as http:  # no key needed
        async with http.get(harness.root_url + "/models") as response:
            assert response.status == 200
            listing = await response.json()
    item = next(m for m in listing["data"] if m["id"] == "gpt-4o")
    assert item["type"] == "chat-completion"
    assert item["info"]["contextLength"] == 128000
    assert {"name", "developer", "description", "url", "docs_url", "maxTokens"} <= set(item["info"])
    assert "openai/chat-completion.function" in item["features"]
    assert "/v1/chat/completions" in item["endpoints"]
    assert "object" not in item  # the service's own shape; /v1/models adds OpenAI's fields
    assert len(listing["data"]) >= 360


async def test_balance_shape_and_charges(harness: Harness) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.get(harness.base_url + "/billing/balance") as response:
            body = await response.json()
    assert body["balance"] == STARTING_CREDITS
    assert body["lowBalance"] is False
    assert body["lowBalanceThreshold"] == 1000
    assert body["lastUpdated"].endswith("Z")
    assert body["autoDebitStatus"] == "disabled"
    assert body["status"] == "current" and body["statusExplanation"]


async def _get_balance(harness: Harness, key: str) -> int:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async with http.get(harness.root_url + "/billing/balance") as response:
            return (await response.json())["balance"]


async def test_admin_routes_need_an_admin_key(harness: Harness) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.post(harness.base_url + "/admin/accounts", json={"name": "x"}) as response:
            assert response.status == 403
    async with aiohttp.ClientSession() as http:
        async with http.get(harness.base_url + "/admin/keys") as response:
            assert response.status == 401


async def test_admin_http_flow_takes_effect_at_once(harness: Harness) -> None:
    headers = {"Authorization": f"Bearer {harness.admin_key}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(harness.base_url + "/admin/accounts", json={"name": "acme"}) as response:
            assert response.status == 201
        async with http.post(harness.base_url + "/admin/accounts", json={"name": "acme"}) as response:
            assert response.status == 409
        async with http.post(
            harness.base_url + "/admin/accounts/acme/topup", json={"credits": "lots"}
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == "credits"
        async with http.post(
            harness.base_url + "/admin/accounts/acme/topup", json={"credits": 5000}
        ) as response:
            assert (await response.json())["balance"] == 5000
        async with http.post(harness.base_url + "/admin/keys", json={"account": "acme"}) as response:
            created = await response.json()
            assert response.status == 201 and created["key"].startswith(created["prefix"])
        async with http.get(harness.base_url + "/admin/keys") as response:
            listed = (await response.json())["data"]
            assert all("key" not in k and "key_hash" not in k for k in listed)
    assert await _get_balance(harness, created["key"]) == 5000
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(harness.base_url + f"/admin/keys/{created['prefix']}/disable") as response,
    ):
        assert (await response.json())["disabled"] is True
    with pytest.raises(openai.AuthenticationError):
        await harness.client(key=created["key"]).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}]
        )


def _cli(harness: Harness, *args: str) -> str:
    env = {**os.environ, "OMNIGATE_CONFIG": str(harness.config_path)}
    done = subprocess.run(
        [sys.executable, "-m", "omnigate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_cli_actions_reach_the_running_server_within_a_second(harness: Harness) -> None:
    # A key created by the CLI (another process) works against the running server...
    key = (await asyncio.to_thread(_cli, harness, "keys", "create", "--account", "team")).strip()
    assert key.startswith("og-") and "\n" not in key
    await eventually(lambda: _status(harness, key, 200), timeout=1.0)
    # ...a top-up shows in its balance...
    await asyncio.to_thread(_cli, harness, "accounts", "topup", "team", "--credits", "777")

    async def topped_up() -> bool:
        return await _get_balance(harness, harness.key) == STARTING_CREDITS + 777

    await eventually(topped_up, timeout=1.0)
    # ...and disabling it locks it out.
    prefix = key[:12]
    await asyncio.to_thread(_cli, harness, "keys", "disable", prefix)
    await eventually(lambda: _status(harness, key, 401), timeout=1.0)
    shown = await asyncio.to_thread(_cli, harness, "accounts", "show", "team")
    assert f"balance:   {STARTING_CREDITS + 777} credits" in shown


async def _status(harness: Harness, key: str, expected: int) -> bool:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async with http.get(harness.root_url + "/billing/balance") as response:
            return response.status == expected


async def test_body_size_limit_is_413(harness: Harness) -> None:
    harness_limit = harness.gateway.settings.server.max_body_bytes
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http:
        async with http.post(
            harness.base_url + "/chat/completions", data=b"x" * (harness_limit + 10)
        ) as response:
            assert response.status == 413
            assert "too large" in (await response.json())["message"]


async def test_unknown_route_is_404_in_the_dual_body(harness: Harness) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(harness.base_url + "/no/such/route") as response:
            body = await response.json()
    assert response.status == 404
    assert body["statusCode"] == 404 and body["error"]["message"] == body["message"]
