"""Logging: lines for people (`[server] log_format = "text"`) or one JSON object a line ("json"),
with one access line per request, built from its record.

Secrets never reach a line: API keys, bearer tokens and Authorization or api-key values are
redacted from every message, whatever logged it. Prompts are not in the access lines unless
`[server] log_prompts` is on. In JSON mode lines are written by a thread of their own, so a slow
log reader never holds up the event loop.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from omnigate.settings import ServerSettings
from omnigate.telemetry.record import RequestRecord

ACCESS_LOGGER = "omnigate.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A prompt longer than this is cut in the access line (base64 images, long histories).
MAX_PROMPT_CHARS = 4000

_SECRETS = (
    # "Authorization: Bearer x", "api_key=x", '"x-api-key": "x"': the value goes, the name stays.
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-api-key|x-goog-api-key|api[_-]?key|access[_-]?token"
            r"|secret[_-]?access[_-]?key|password)(['\"]?\s*[:=]\s*['\"]?)(bearer\s+|basic\s+)?[^\s'\",;&]+"
        ),
        r"\1\2\3[redacted]",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    # Keys by their shape, wherever they appear: ours (og-), OpenAI-style (sk-), and others'.
    (re.compile(r"\b(og-|sk-|sk-ant-|AIza)[A-Za-z0-9_-]{16,}"), r"\1[redacted]"),
    # Credentials in URLs: postgresql://user:password@host
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The text format, with secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if access is not None:
            line.update(access)  # built from a record: no secrets in it
        else:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self.formatException(record.exc_info)
            line["message"] = redact(message)
        return orjson.dumps(line, default=str).decode()


class AccessLog:
    """An observer writing one line per finished request (JSON mode)."""

    def __init__(self, *, log_prompts: bool = False) -> None:
        self.log = logging.getLogger(ACCESS_LOGGER)
        self.log_prompts = log_prompts

    def observe(self, record: RequestRecord) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            "message": "request",
            "request_id": record.request_id,
            "method": record.method,
            "route": record.route,
            "status": record.status,
            "duration_ms": round(record.duration_ms, 3),
            "model": record.model,
            "provider": record.provider,
            "key_prefix": record.key_prefix,  # the visible prefix listings show, never the key
            "account_id": record.account_id,
            "stream": record.stream,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "credits": record.credits,
            "upstream_ms": round(record.upstream_ms, 3),
        }
        if record.ttft_ms is not None:
            fields["ttft_ms"] = round(record.ttft_ms, 3)
        if record.error_code:
            fields["error_code"] = record.error_code
        if self.log_prompts and record.prompt is not None:
            fields["prompt"] = prompt_text(record.prompt)
        self.log.info("request", extra={"access": fields})


def prompt_text(prompt: Any) -> str:
    text = prompt if isinstance(prompt, str) else orjson.dumps(prompt, default=str).decode()
    return text if len(text) <= MAX_PROMPT_CHARS else text[:MAX_PROMPT_CHARS] + "…"


def prompt_of(body: dict) -> Any:
    """What a request body asks (chat messages, Responses input, a prompt, text to speak)."""
    for name in ("messages", "input", "prompt", "text"):
        if name in body:
            return body[name]
    return None


def configure(server: ServerSettings, *, level: int = logging.INFO) -> None:
    """Set up the root logger for `omnigate serve` and `omnigate worker`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if server.log_format != "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter(TEXT_FORMAT))
        root.addHandler(handler)
        return
    # Lines are formatted where they are logged (the record's arguments may change later) and
    # written by the listener's thread.
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    front = _FormattingQueueHandler(lines)
    front.setFormatter(JsonFormatter())
    root.addHandler(front)
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(lines, writer)
    listener.start()
    atexit.register(listener.stop)


class _FormattingQueueHandler(logging.handlers.QueueHandler):
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        line = logging.LogRecord(record.name, record.levelno, "", 0, self.format(record), None, None)
        return line
