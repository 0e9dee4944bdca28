"""Provider presets: names, config merging, quirks; and a preset provider end to end."""

from __future__ import annotations

import textwrap
from pathlib import Path

import openai
import pytest

from omnigate.catalog.loader import Catalog
from omnigate.providers.fal.apps import TASK_APPS
from omnigate.providers.openai_compat.quirks import apply_quirks
from omnigate.providers.presets import presets, upstream_name
from omnigate.settings import PROVIDER_KINDS, ConfigError, load_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.server import funded_account, serve

CATALOG = Catalog.load()


def name_for(preset: str, model_id: str) -> str:
    spec = presets()[preset]
    return upstream_name(CATALOG.lookup(model_id), spec["names"], spec.get("models", {}))


def test_catalogue_ids_become_each_providers_names() -> None:
    assert name_for("openai", "openai/gpt-4.1-2025-04-14") == "gpt-4.1-2025-04-14"
    assert name_for("openai", "openai/gpt-5-1") == "gpt-5.1"
    assert name_for("anthropic", "anthropic/claude-opus-4.1") == "claude-opus-4-1-20250805"
    assert name_for("anthropic", "claude-3-haiku-20240307") == "claude-3-haiku-20240307"
    assert name_for("deepseek", "deepseek/deepseek-r1") == "deepseek-reasoner"
    assert name_for("gemini", "google/gemini-2.5-flash") == "gemini-2.5-flash"
    assert (
        name_for("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
        == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    )
    assert name_for("xai", "x-ai/grok-4-07-09") == "grok-4-0709"


def test_every_preset_names_a_known_kind_and_an_https_base_url() -> None:
    for name, spec in presets().items():
        assert spec["kind"] in PROVIDER_KINDS, name
        assert spec["base_url"].startswith("https://"), name
        assert spec["api_key_env"].isupper(), name


def test_a_preset_fills_in_the_provider_and_the_config_wins(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[providers.ds]\npreset = "deepseek"\nbase_url = "http://127.0.0.1:9/v1"\n')
    provider = load_settings(config).providers["ds"]
    assert provider.base_url == "http://127.0.0.1:9/v1"
    assert provider.api_key_env == "DEEPSEEK_API_KEY"
    assert provider.developers == ["DeepSeek"]
    config.write_text('[providers.x]\npreset = "nope"\n')
    with pytest.raises(ConfigError, match="preset 'nope' is unknown"):
        load_settings(config)


def test_responses_flag(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[providers.oa]\npreset = "openai"\n[providers.ds]\npreset = "deepseek"\n')
    providers = load_settings(config).providers
    assert providers["oa"].responses is True and providers["ds"].responses is False
    config.write_text('[providers.oa]\npreset = "openai"\nresponses = false\n')
    assert load_settings(config).providers["oa"].responses is False
    config.write_text('[providers.oa]\npreset = "openai"\nresponses = "yes"\n')
    with pytest.raises(ConfigError, match="responses must be true or false"):
        load_settings(config)
    config.write_text('[providers.an]\npreset = "anthropic"\nresponses = true\n')
    with pytest.raises(ConfigError, match='needs kind = "openai"'):
        load_settings(config)


def test_quirks() -> None:
    assert apply_quirks({"max_tokens": 5}, {"max_tokens_field": "max_completion_tokens"}) == {
        "max_completion_tokens": 5
    }
    assert apply_quirks({"max_completion_tokens": 5}, {"max_tokens_field": "max_tokens"}) == {"max_tokens": 5}
    assert apply_quirks({"tools": [], "n": 1, "x": 1}, {"drop": ["tools", "n"]}) == {"x": 1}
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    assert apply_quirks(body, {"system_as_user": True})["messages"] == [
        {"role": "user", "content": "Be brief.\n\nHi"}
    ]


async def test_a_preset_provider_serves_its_developers_models(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-fake")
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    config = tmp_path / "c.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"
            [engines]
            builtin = false
            [providers.deepseek]
            preset = "deepseek"
            base_url = "{upstream.base_url}"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 10**9)
    try:
        async with serve(settings) as (_, root):
            client = openai.AsyncOpenAI(base_url=root + "/v1", api_key=key, max_retries=0)
            reply = await client.chat.completions.create(
                model="deepseek/deepseek-r1",
                messages=[{"role": "user", "content": "think"}],
                max_completion_tokens=20,
            )
            assert reply.model == "deepseek/deepseek-r1"
            sent = upstream.requests[-1]
            assert sent["model"] == "deepseek-reasoner"
            # The model's rules only know max_tokens: the budget is renamed, not dropped.
            assert sent["max_tokens"] == 20 and "max_completion_tokens" not in sent
            assert upstream.headers[-1]["authorization"] == "Bearer sk-fake"
    finally:
        db.close()
        await upstream.stop()


def test_the_fal_preset_routes_every_task_model_fal_hosts() -> None:
    assert sorted(presets()["fal"]["include"]) == sorted(TASK_APPS)
