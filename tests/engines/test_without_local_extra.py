"""The core install (no `[local]` extra) starts and simply offers no local models.

The check runs in a fresh interpreter whose imports of the extra's libraries fail, as they do
where they were never installed; this process has them loaded already, so it cannot check itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# A meta path finder that refuses the [local] extra's libraries before any other finder looks.
_BLOCK_LOCAL_EXTRA = """
import sys

class RefuseLocalExtra:
    blocked = (
        "numpy", "llama_cpp", "tokenizers", "safetensors", "piper", "onnxruntime", "faster_whisper",
        "ctranslate2", "av", "rapidocr", "pypdfium2", "PIL",
    )

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, RefuseLocalExtra())
"""

_SERVE_MODELS = """
import asyncio, json, sys
from aiohttp.test_utils import TestClient, TestServer
from omnigate.app import create_app
from omnigate.gateway import Gateway
from omnigate.settings import load_settings

async def main():
    settings = load_settings(sys.argv[1])
    gateway = Gateway.build(settings)
    gateway.db.upgrade()
    async with TestClient(TestServer(create_app(gateway))) as client:
        response = await client.get("/models")
        models = await response.json()
    loaded = sorted(m for m in RefuseLocalExtra.blocked if m in sys.modules)
    print(json.dumps({"status": response.status, "ids": [m["id"] for m in models["data"]], "loaded": loaded}))

asyncio.run(main())
"""


def _run_blocked(script: str, config: Path) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(_BLOCK_LOCAL_EXTRA) + textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=120
    )


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "omnigate.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{extra}')
    return path


def test_the_blocker_really_blocks_numpy(tmp_path: Path) -> None:
    result = _run_blocked("import numpy\n", _config(tmp_path))
    assert result.returncode != 0
    assert "blocked by the test" in result.stderr


def test_the_gateway_serves_without_the_local_extra_and_lists_no_local_model(tmp_path: Path) -> None:
    # An operator's own GGUF model needs llama_cpp too: it is left out, not offered to fail later.
    (tmp_path / "own.gguf").write_bytes(b"GGUF")
    own_model = f'[[local_models]]\nid = "local/own"\npath = "{tmp_path / "own.gguf"}"\n'
    result = _run_blocked(_SERVE_MODELS, _config(tmp_path, own_model))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    assert "gpt-4o" in answer["ids"]
    # flite is a Debian program, not a library of the extra: it serves wherever it is installed.
    assert not [i for i in answer["ids"] if i.startswith("local/") and i != "local/flite"]
    assert answer["loaded"] == []
    assert "local/smollm2-135m-instruct is not available: llama_cpp not installed" in result.stderr
    assert "local/all-minilm-l6-v2 is not available: numpy, tokenizers, safetensors" in result.stderr
    assert "local/rapidocr is not available: rapidocr, onnxruntime, pypdfium2, PIL, numpy" in result.stderr
    assert "local/own is not available: llama_cpp is not installed" in result.stderr
