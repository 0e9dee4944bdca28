"""`omnigate serve` as operators run it: /metrics over several workers, and JSON logs."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from pathlib import Path

import httpx
import openai
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import eventually
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.process import start_server, workers_config, write_config
from tests.server import funded_account
from tests.services import REDIS_URL, redis_missing

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "a private prompt"}], "max_tokens": 10}


async def _equals(found: Awaitable[float], expected: float) -> bool:
    return await found == expected


def chat_requests(text: str, route: str = "/v1/chat/completions") -> float:
    """The chat completions /metrics counts, all models, providers and statuses together."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "omnigate_requests_total" and s.labels["route"] == route
    )


@pytest.mark.skipif(redis_missing() is not None, reason="Redis is not reachable")
async def test_metrics_add_up_every_workers_requests(tmp_path: Path) -> None:
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    config, prefix = workers_config(tmp_path, upstream.base_url)
    _, _, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", 10_000_000)
    server = await start_server(config, workers=2)
    try:
        workers: set[str] = set()
        sent = 0
        # Fresh connections each round, so the kernel spreads them over the workers; rounds go
        # on (bounded) until both have answered.
        while sent < 10 or (len(workers) < 2 and sent < 200):
            async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
                reply = await client.chat.completions.with_raw_response.create(**CHAT)
            workers.add(reply.headers["x-request-id"].rsplit("-", 1)[0])
            sent += 1
        assert len(workers) == 2, "both workers should have answered"

        async def scraped() -> float:
            async with httpx.AsyncClient() as http:  # a fresh connection: any worker may answer
                response = await http.get(server.url + "/metrics")
            assert response.status_code == 200
            return chat_requests(response.text)

        # Each worker hands its counts over within a second of counting them.
        await eventually(lambda: _equals(scraped(), sent), timeout=10)
        assert [await scraped() for _ in range(6)] == [sent] * 6
    finally:
        server.stop()
        await upstream.stop()
        client_redis = redis.Redis.from_url(REDIS_URL)
        for k in client_redis.scan_iter(f"{prefix}*"):
            client_redis.delete(k)


@pytest.mark.skipif(redis_missing() is not None, reason="Redis is not reachable")
@pytest.mark.parametrize("workers", [1, 2])
async def test_a_restart_counts_from_zero_in_the_operators_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """$PROMETHEUS_MULTIPROC_DIR set by the operator: each start empties it of the last run's figures."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    config, prefix = workers_config(tmp_path, upstream.base_url)
    _, _, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", 10_000_000)
    try:
        for run, sent in enumerate((3, 2)):
            server = await start_server(config, workers=workers, log_name=f"serve-{run}.log")
            try:
                async with openai.AsyncOpenAI(
                    base_url=f"{server.url}/v1", api_key=key, max_retries=0
                ) as client:
                    for _ in range(sent):
                        await client.chat.completions.create(**CHAT)

                async def scraped(url: str = server.url) -> float:
                    async with httpx.AsyncClient() as http:
                        return chat_requests((await http.get(url + "/metrics")).text)

                await eventually(lambda sent=sent: _equals(scraped(), sent), timeout=10)
            finally:
                server.stop()
    finally:
        await upstream.stop()
        client_redis = redis.Redis.from_url(REDIS_URL)
        for k in client_redis.scan_iter(f"{prefix}*"):
            client_redis.delete(k)


async def _serve_with_json_logs(tmp_path: Path, server_table: str) -> tuple[str, str, list[str]]:
    """Serve with JSON logs; send one paid chat completion and one with a wrong key. Returns the
    key, the paid answer's request id, and the log's lines once the server has stopped."""
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    config = tmp_path / "omnigate.toml"
    write_config(config, data_dir=tmp_path / "data", upstream_url=upstream.base_url)
    config.write_text(config.read_text() + server_table)
    _, _, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", 10_000_000)
    server = await start_server(config)
    try:
        async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0) as client:
            reply = await client.chat.completions.with_raw_response.create(**CHAT)
        wrong = "og-" + "w" * 43
        async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=wrong, max_retries=0) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.chat.completions.create(**CHAT)
    finally:
        assert server.stop() == 0
        await upstream.stop()
    return key, reply.headers["x-request-id"], server.log().splitlines()


async def test_json_logs_have_one_access_line_per_request_and_no_secrets(tmp_path: Path) -> None:
    key, request_id, lines = await _serve_with_json_logs(tmp_path, '\n[server]\nlog_format = "json"\n')
    # Every line is a JSON object but the one `serve` prints on stdout for people.
    logged = [json.loads(line) for line in lines if not line.startswith("Omnigate listening")]
    assert logged and all({"ts", "level", "logger"} <= set(line) for line in logged)
    access = [line for line in logged if line["logger"] == "omnigate.access"]
    chats = [line for line in access if line["route"] == "/v1/chat/completions"]
    assert [(line["status"], line["model"]) for line in chats] == [(200, "gpt-4o"), (401, None)]
    paid = chats[0]
    assert paid["request_id"] == request_id and paid["duration_ms"] > 0
    assert paid["prompt_tokens"] > 0 and paid["credits"] > 0
    assert chats[1]["error_code"] and chats[1]["request_id"] != request_id
    text = "\n".join(lines)
    assert key not in text and "og-www" not in text
    assert "a private prompt" not in text and "prompt" not in paid


async def test_prompts_are_logged_only_when_enabled(tmp_path: Path) -> None:
    _, request_id, lines = await _serve_with_json_logs(
        tmp_path, '\n[server]\nlog_format = "json"\nlog_prompts = true\n'
    )
    access = [json.loads(line) for line in lines if '"omnigate.access"' in line]
    [paid] = [line for line in access if line["request_id"] == request_id]
    assert "a private prompt" in paid["prompt"]
