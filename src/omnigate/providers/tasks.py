"""What a backend that runs asynchronous generations (video, music, speech to text) offers.

The gateway keeps its own task (tasks/ and the `tasks` table): the client polls the gateway, the
gateway's runner polls the backend. A backend submits a job and says what became of it:

- `submit_task(job)` sends the service's create body for the family (`model` set to the
  upstream's name, as for media jobs) and returns the upstream's task id, at once;
- `poll_task(family, upstream_id)` says where that task stands, and when it is done, the result
  in the service's shape for the family: `{"video": {"url", ...}}`, `{"audio_file": {"url", ...}}`,
  or for `stt` the transcript object as /v1/stt answers it.

Backends without a task API of their own (an upstream that transcribes synchronously, a local
engine) need not implement this: the runner runs their synchronous media job instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from omnigate.billing.pricing import Used
from omnigate.providers.media import MediaJob

TASK_FAMILIES = ("video", "music", "stt")
Status = Literal["queued", "generating", "completed", "error"]


@dataclass(slots=True)
class Submitted:
    upstream_id: str
    status: Status = "queued"
    # What an upstream that bills in credits charged at creation (the service charges then).
    upstream_credits: int | None = None


@dataclass(slots=True)
class Polled:
    status: Status
    # With "completed": the service's result for the family (see the module's docstring).
    result: dict | None = None
    # With "error": what went wrong, as the client may see it (already free of upstream secrets).
    error: str | None = None
    # With "completed": what the generation used (seconds of video or audio), for billing.
    used: Used = field(default_factory=Used)
    # Bytes an upstream hands over instead of a URL (OpenAI's video content), with their type:
    # the gateway stores them and answers its own URL.
    content: bytes | None = None
    content_type: str | None = None


class TaskBackend(Protocol):
    name: str
    # The task families this backend runs with its own task API.
    task_families: frozenset[str]
    markup: float | None
    reserve_credits: int

    async def submit_task(self, family: str, job: MediaJob) -> Submitted: ...

    async def poll_task(self, family: str, upstream_id: str) -> Polled: ...
