"""One record per request, filled in as the request goes along and handed to the observers
(metrics, the request log, ...) once its answer has been sent.

The error boundary (app.py) opens the record before the handler runs and closes it afterwards,
so every request is seen exactly once, failures included. The pipeline adds what it learns on
the way: the model and key once the request is accepted, the deployment, tokens and credits
once it is settled, the time to the first streamed byte.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    route: str  # the matched route's template ("/v1/chat/completions"); "" when none matched
    started_at: datetime  # wall clock, UTC
    started: float  # time.perf_counter() at the start, for durations
    status: int = 0
    duration_ms: float = 0.0
    error_code: str | None = None
    account_id: int | None = None
    key_prefix: str | None = None
    model: str | None = None  # the model the answer names
    provider: str | None = None  # the backend of the deployment that answered
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    credits: int = 0  # charged for this request (a task's creation charge included)
    upstream_ms: float = 0.0  # time spent waiting on upstreams or engines
    ttft_ms: float | None = None  # streamed answers: time to the first byte of the stream body
    prompt: Any = None  # what the body asked; kept only with [server] log_prompts = true

    @property
    def overhead_ms(self) -> float:
        """The time the gateway itself added."""
        return max(0.0, self.duration_ms - self.upstream_ms)

    def mark_first_byte(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.started) * 1000


class Observer(Protocol):
    """Takes each finished request's record. Called on the event loop: it must not block (an
    observer that writes somewhere buffers and writes off the hot path)."""

    def observe(self, record: RequestRecord) -> None: ...


RECORD = web.RequestKey("record", RequestRecord)


def open_record(request: web.Request, request_id: str) -> RequestRecord:
    info = request.match_info.route.resource
    record = RequestRecord(
        request_id=request_id,
        method=request.method,
        route=info.canonical if info is not None else "",
        started_at=datetime.now(UTC),
        started=time.perf_counter(),
    )
    request[RECORD] = record
    return record


def current(request: web.Request) -> RequestRecord | None:
    """The record of a request that the error boundary opened (None in handler unit tests)."""
    return request.get(RECORD)
