"""`omnigate tasks list|show`: what an operator sees of tasks and their money."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnigate.cli import main
from omnigate.store.db import Database
from omnigate.store.rows import LedgerEntry
from omnigate.store.tasks import charge_entry_id


def test_tasks_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "omnigate.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[engines]\nbuiltin = false\n')
    db = Database(f"sqlite:///{tmp_path / 'omnigate.db'}")
    db.upgrade()
    account = db.create_account("acme", low_balance_threshold=0, origin="t")
    task_id = "0f6c2a1e-0000-4000-8000-000000000001:google/veo-3.1-t2v"
    db.insert_task(
        task_id=task_id,
        account_id=account.id,
        key_prefix="og-test",
        family="video",
        model="google/veo-3.1-t2v",
        request_id="req-1",
        status="generating",
        body="{}",
        provider="svc",
        upstream_model="google/veo-3.1-t2v",
        upstream_id="up-1",
        first_poll_s=0,
    )
    db.set_task_charged(task_id, 800_000)
    charge = LedgerEntry(charge_entry_id(task_id.split(":")[0]), account.id, -800_000, "charge")
    db.write_ledger([charge], origin="t")
    db.close()

    assert main(["tasks", "list", "--config", str(config), "--account", "acme"]) == 0
    listing = capsys.readouterr().out
    assert task_id in listing and "generating" in listing and "800000" in listing

    assert main(["tasks", "show", task_id, "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "up-1" in shown and f"{charge.entry_id} -800000" in shown
    assert f"task:{task_id.split(':')[0]}:refund (none)" in shown

    assert main(["tasks", "show", "no-such-task", "--config", str(config)]) == 1
    assert "does not exist" in capsys.readouterr().err
