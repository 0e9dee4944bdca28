"""The [search] table: what a config may say, and the refusals that name the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnigate.settings import ConfigError, load_settings


def _load(tmp_path: Path, text: str):
    path = tmp_path / "omnigate.toml"
    path.write_text(text)
    return load_settings(path)


def test_nothing_configured_means_no_search(tmp_path: Path) -> None:
    assert not _load(tmp_path, "").search.configured


def test_a_searxng_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIGATE_SEARCH_SEARXNG_URL", "http://searxng:8080")
    search = _load(tmp_path, "[search]\nmax_results = 5\n").search
    assert (search.searxng_url, search.max_results, search.configured) == ("http://searxng:8080", 5, True)


def test_routes_may_name_the_search_provider_once_search_is_configured(tmp_path: Path) -> None:
    route = '[[routes]]\nmodel = "bagoodex/*"\nprovider = "search"\n'
    with pytest.raises(ConfigError, match="routes\\[0\\] names provider 'search'"):
        _load(tmp_path, route)
    settings = _load(tmp_path, f'[search]\nlocal_documents = "{tmp_path}"\n{route}')
    assert settings.routes[0].provider == "search"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('searxng_url = "searxng:8080"', "searxng_url must be"),
        ('chat_provider = "nowhere"\nchat_model = "m"', "chat_provider names 'nowhere'"),
        ('summarize_provider = "nowhere"\nsummarize_model = "m"', "summarize_provider names 'nowhere'"),
        ('local_documents = "/no/such/folder"', "is not a folder"),
        ("max_results = 0", "max_results must be at least 1"),
        ("timeout_s = 0", "timeout_s must be positive"),
        ("engine = 'google'", "has no setting 'engine'"),
    ],
)
def test_refusals_name_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, f"[search]\n{table}\n")


def test_a_chat_provider_needs_its_model(tmp_path: Path) -> None:
    config = '[providers.web]\nbase_url = "http://127.0.0.1:9/v1"\n[search]\nchat_provider = "web"\n'
    with pytest.raises(ConfigError, match="needs chat_model"):
        _load(tmp_path, config)


def test_search_is_a_reserved_provider_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        _load(tmp_path, '[providers.search]\nbase_url = "http://127.0.0.1:9/v1"\n')
