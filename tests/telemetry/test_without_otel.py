"""Without the `otel` extra the gateway serves as before; asking for traces then says what to
install. Checked in a fresh interpreter whose imports of OpenTelemetry fail, as where it was never
installed (this process may have it loaded already)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = """
import asyncio, json, sys

class RefuseOtel:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, RefuseOtel())

from aiohttp.test_utils import TestClient, TestServer
from omnigate.app import create_app
from omnigate.gateway import Gateway
from omnigate.settings import ConfigError, load_settings

async def main():
    gateway = Gateway.build(load_settings(sys.argv[1]))
    gateway.db.upgrade()
    async with TestClient(TestServer(create_app(gateway))) as client:
        status = (await client.get("/health")).status
    try:
        Gateway.build(load_settings(sys.argv[2]))
        refusal = None
    except ConfigError as exc:
        refusal = str(exc)
    print(json.dumps({"status": status, "refusal": refusal}))

asyncio.run(main())
"""


def test_traces_need_the_otel_extra_and_nothing_else_does(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text(f'data_dir = "{tmp_path / "data"}"\n[engines]\nbuiltin = false\n')
    traced = tmp_path / "traced.toml"
    traced.write_text(plain.read_text() + '[telemetry]\notlp_endpoint = "http://127.0.0.1:4318"\n')
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), str(plain), str(traced)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert "omnigate[otel]" in answer["refusal"]
