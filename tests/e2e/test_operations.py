"""What operators and their machines see: /metrics after known traffic, /health and /ready, and
the CORS answers browser apps on other origins get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    PRICED_MODEL,
    Harness,
    eventually,
    running_harness,
)
from tests.server import serve

CHAT = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "count me please"}]
# The harness routes gpt-4o to the primary as this upstream model, then to the backup.
PRIMARY = "primary:gpt-4o-2024-08-06"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(harness: Harness) -> tuple[str, Samples]:
    async with httpx.AsyncClient() as http:
        response = await http.get(harness.root_url + "/metrics")  # no key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_known_traffic_exactly(harness: Harness) -> None:
    client = harness.client()
    answers = []
    for _ in range(3):
        answers.append(
            await client.chat.completions.with_raw_response.create(model=PRICED_MODEL, messages=HELLO)
        )
    # The primary fails once: the backup answers, and the primary's health shows the failure.
    harness.upstream.fail_next.append(500)
    answers.append(await client.chat.completions.with_raw_response.create(model=PRICED_MODEL, messages=HELLO))
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="no-such-model", messages=HELLO)
    await harness.flush()

    body, samples = await scrape(harness)
    ok = {"route": CHAT, "method": "POST", "model": PRICED_MODEL, "status": "2xx"}
    assert value(samples, "omnigate_requests_total", **ok, provider="primary") == 3
    assert value(samples, "omnigate_requests_total", **ok, provider="backup") == 1
    # An unknown model is refused before any model or provider is known.
    refused = {"route": CHAT, "method": "POST", "model": "", "provider": "", "status": "4xx"}
    assert value(samples, "omnigate_requests_total", **refused) == 1

    usages = [a.parse().usage for a in answers]
    prompt = sum(u.prompt_tokens for u in usages if u)
    completion = sum(u.completion_tokens for u in usages if u)
    tokens = {"model": PRICED_MODEL}
    input_tokens = sum(
        value(samples, "omnigate_tokens_total", **tokens, provider=p, direction="input")
        for p in ("primary", "backup")
    )
    output_tokens = sum(
        value(samples, "omnigate_tokens_total", **tokens, provider=p, direction="output")
        for p in ("primary", "backup")
    )
    assert (input_tokens, output_tokens) == (prompt, completion)
    credits = sum(
        value(samples, "omnigate_credits_charged_total", **tokens, provider=p) for p in ("primary", "backup")
    )
    assert credits == prompt * INPUT_CREDITS_PER_TOKEN + completion * OUTPUT_CREDITS_PER_TOKEN

    assert value(samples, "omnigate_request_duration_seconds_count", route=CHAT, model=PRICED_MODEL) == 4
    assert value(samples, "omnigate_request_duration_seconds_count", route=CHAT, model="") == 1
    assert value(samples, "omnigate_gateway_overhead_seconds_count", route=CHAT) == 5
    assert value(samples, "omnigate_requests_in_flight") == 1  # the scrape itself
    assert value(samples, "omnigate_ledger_outbox_depth") == 0  # flushed above
    assert value(samples, "omnigate_task_queue_depth", status="queued") == 0
    assert value(samples, "omnigate_task_queue_depth", status="generating") == 0
    assert value(samples, "omnigate_upstream_up", deployment=PRIMARY) == 1
    assert value(samples, "omnigate_upstream_consecutive_failures", deployment=PRIMARY) == 1
    assert value(samples, "omnigate_upstream_up", deployment="backup:gpt-4o") == 1

    # Labels stay bounded: no key, no request id, no path or method a client made up.
    async with httpx.AsyncClient() as http:
        for n, method in enumerate(("PROPFIND", "MKCOL", "SEARCH")):
            await http.request(method, f"{harness.root_url}/made/up/{n}")
    body, samples = await scrape(harness)
    assert "/made/up" not in body and "PROPFIND" not in body
    made_up = {"route": "unmatched", "method": "other", "model": "", "provider": "", "status": "4xx"}
    assert value(samples, "omnigate_requests_total", **made_up) == 3
    assert harness.key not in body and harness.key[:12] not in body
    assert answers[0].headers["x-request-id"] not in body


async def test_a_stream_counts_its_time_to_first_token(harness: Harness) -> None:
    stream = await harness.client().chat.completions.create(model=PRICED_MODEL, messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks

    async def counted() -> bool:
        _, samples = await scrape(harness)
        return (
            value(samples, "omnigate_time_to_first_token_seconds_count", route=CHAT, model=PRICED_MODEL) == 1
        )

    await eventually(counted)


async def test_health_and_ready_need_no_key(harness: Harness) -> None:
    async with httpx.AsyncClient() as http:
        health = await http.get(harness.root_url + "/health")
        ready = await http.get(harness.root_url + "/ready")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    redis = "ok" if harness.stack == "postgres+redis" else "not configured"
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "redis": redis, "routes": "ok"}},
    )


async def test_ready_says_503_and_why_when_the_database_has_no_schema(harness: Harness) -> None:
    with harness.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE schema_version"))
    async with httpx.AsyncClient() as http:
        ready = await http.get(harness.root_url + "/ready")
        health = await http.get(harness.root_url + "/health")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["database"].startswith("no schema")
    assert health.status_code == 200  # alive all the same


async def test_ready_says_503_without_any_route(tmp_path: Path) -> None:
    config = tmp_path / "omnigate.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[engines]\nbuiltin = false\n')
    settings = load_settings(config)
    db = Database(settings.database_url)
    db.upgrade()
    async with serve(settings) as (_, root), httpx.AsyncClient() as http:
        ready = await http.get(root + "/ready")
    db.close()
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["routes"].startswith("no routes")


# -- CORS --------------------------------------------------------------------------------------
APP = "https://app.example.com"


@pytest.fixture
async def cors_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    extra = f'\n[server]\ncors_origins = ["{APP}/", "http://localhost:5173"]\n'
    async with running_harness(tmp_path, monkeypatch, extra=extra) as running:
        yield running


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, x-client-request-id",
    }


async def test_preflights_are_answered_for_allowed_origins(cors_harness: Harness) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.options(cors_harness.base_url + "/chat/completions", headers=preflight(APP))
        bare = await http.options(cors_harness.root_url + "/chat/completions", headers=preflight(APP))
        refused = await http.options(
            cors_harness.base_url + "/chat/completions", headers=preflight("https://evil.example")
        )
        nowhere = await http.options(cors_harness.root_url + "/nowhere", headers=preflight(APP))
    assert answer.status_code == 204 and bare.status_code == 204
    assert answer.headers["access-control-allow-origin"] == APP
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert (
        answer.headers["access-control-allow-headers"] == "authorization, content-type, x-client-request-id"
    )
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "Origin" in answer.headers["vary"]
    assert refused.status_code == 403
    assert "evil.example" in refused.json()["error"]["message"]
    assert "access-control-allow-origin" not in refused.headers
    assert nowhere.status_code == 404


async def test_answers_to_allowed_origins_carry_the_cors_headers(cors_harness: Harness) -> None:
    headers = {"Authorization": f"Bearer {cors_harness.key}"}
    body = {"model": PRICED_MODEL, "messages": HELLO}
    async with httpx.AsyncClient() as http:
        allowed = await http.post(
            cors_harness.base_url + "/chat/completions", json=body, headers={**headers, "Origin": APP}
        )
        async with http.stream(
            "POST",
            cors_harness.base_url + "/chat/completions",
            json={**body, "stream": True},
            headers={**headers, "Origin": "http://localhost:5173"},
        ) as streamed:
            await streamed.aread()
        other = await http.post(
            cors_harness.base_url + "/chat/completions",
            json=body,
            headers={**headers, "Origin": "https://x.test"},
        )
        error = await http.get(cors_harness.base_url + "/billing/balance", headers={"Origin": APP})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == APP
    assert "X-Request-Id" in allowed.headers["access-control-expose-headers"]
    assert streamed.status_code == 200
    assert streamed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    assert error.status_code == 401 and error.headers["access-control-allow-origin"] == APP


async def test_any_origin_with_a_star(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_harness(tmp_path, monkeypatch, extra='\n[server]\ncors_origins = "*"\n') as running:
        async with httpx.AsyncClient() as http:
            answer = await http.options(
                running.base_url + "/embeddings", headers=preflight("https://any.test")
            )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "vary" not in answer.headers


async def test_without_cors_origins_a_preflight_is_not_answered(local_harness: Harness) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.options(local_harness.base_url + "/chat/completions", headers=preflight(APP))
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers
