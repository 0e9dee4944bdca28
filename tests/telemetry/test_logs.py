"""Secrets never reach a log line; the config says which origins and log format apply."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from omnigate.settings import ConfigError, load_settings
from omnigate.telemetry.logs import JsonFormatter, redact

KEY = "og-" + "A1b2C3d4E5f6G7h8I9j0" * 2


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {KEY}",
        f'headers={{"authorization": "Bearer {KEY}"}}',
        f"x-api-key={KEY}",
        f"calling with api_key={KEY}&model=x",
        f"key {KEY} refused",
        "upstream said: invalid key sk-proj-" + "x" * 40,
        "postgresql://postgres:hunter2secret@db:5432/test",
        "Bearer abcdefghijklmnop",
    ],
)
def test_secrets_are_redacted(line: str) -> None:
    out = redact(line)
    assert KEY not in out and "hunter2secret" not in out and "x" * 40 not in out
    assert "abcdefghijklmnop" not in out
    assert "[redacted]" in out


def test_ordinary_text_is_left_alone() -> None:
    line = "request abc-12 attempt 1/2 via primary:gpt-4o failed: upstream answered 500"
    assert redact(line) == line


def test_json_lines_redact_messages_and_exceptions() -> None:
    try:
        raise RuntimeError(f"bad key {KEY}")
    except RuntimeError:
        record = logging.LogRecord("omnigate.x", logging.ERROR, "", 0, "failed with %s", (KEY,), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["level"] == "error" and parsed["logger"] == "omnigate.x"
    assert "RuntimeError" in parsed["message"] and KEY not in line


def test_cors_origins_and_log_format_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "omnigate.toml"
    config.write_text('[server]\ncors_origins = ["https://app.example.com/", "http://localhost:5173"]\n')
    assert load_settings(config).server.cors_origins == ["https://app.example.com", "http://localhost:5173"]
    monkeypatch.setenv("OMNIGATE_SERVER_CORS_ORIGINS", "https://a.test, https://b.test")
    assert load_settings(config).server.cors_origins == ["https://a.test", "https://b.test"]
    monkeypatch.delenv("OMNIGATE_SERVER_CORS_ORIGINS")
    for bad, named in (
        ('cors_origins = ["app.example.com"]', "cors_origins"),
        ('cors_origins = ["https://app.example.com/path"]', "cors_origins"),
        ("cors_origins = [1]", "cors_origins"),
        ('log_format = "xml"', "log_format"),
    ):
        config.write_text(f"[server]\n{bad}\n")
        with pytest.raises(ConfigError, match=named):
            load_settings(config)
