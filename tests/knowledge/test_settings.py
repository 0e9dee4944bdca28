"""The [assistants] table: file_search's defaults, and the refusals that name the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnigate.settings import ConfigError, load_settings


def _load(tmp_path: Path, text: str):
    path = tmp_path / "omnigate.toml"
    path.write_text(text)
    return load_settings(path)


def test_the_defaults_index_with_the_local_model_in_openais_chunks(tmp_path: Path) -> None:
    assistants = _load(tmp_path, "").assistants
    assert (assistants.embedding_model, assistants.chunk_tokens, assistants.chunk_overlap_tokens) == (
        "local/all-minilm-l6-v2",
        800,
        400,
    )


def test_the_embedding_model_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIGATE_ASSISTANTS_EMBEDDING_MODEL", "text-embedding-3-small")
    assert _load(tmp_path, "").assistants.embedding_model == "text-embedding-3-small"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("max_file_chunks = 0", "max_file_chunks must be at least 1"),
        ("chunk_tokens = 8", "chunk_tokens must be at least 16"),
        ("chunk_tokens = 100\nchunk_overlap_tokens = 51", "chunk_overlap_tokens must be from 0 to half"),
        ("chunk_overlap_tokens = -1", "chunk_overlap_tokens must be from 0 to half"),
        ("chunks = 3", "has no setting 'chunks'"),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, f"[assistants]\n{table}\n")
