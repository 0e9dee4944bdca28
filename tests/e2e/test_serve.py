"""`omnigate serve` as a user runs it: first start prints a key once, and the key works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "OMNIGATE_CONFIG"}
    env["OMNIGATE_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "omnigate.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _wait_listening(proc: subprocess.Popen) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "listening on" in line:
            return lines
    proc.kill()
    pytest.fail("server did not start:\n" + "\n".join(lines))


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


def test_first_start_prints_one_admin_key_and_never_again(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        lines = _wait_listening(proc)
        keys = [line.strip() for line in lines if line.strip().startswith("og-")]
        assert len(keys) == 1
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=keys[0], max_retries=0)
        assert len(client.models.list().data) > 300
        balance = client.get("/billing/balance", cast_to=object)
        assert balance["balance"] == 0
    finally:
        first_output = "\n".join(lines) + _stop(proc)
    assert (tmp_path / "omnigate.db").exists()

    proc = _start(tmp_path, port)
    try:
        lines = _wait_listening(proc)
    finally:
        second_output = "\n".join(lines) + _stop(proc)
    assert keys[0] not in second_output
    assert "og-" not in second_output
    assert "First start" in first_output and "First start" not in second_output
