"""What every chat backend (an upstream protocol adapter or a built-in engine) offers the gateway.

Bodies in and out are OpenAI-shaped dicts: the handler stays the same whoever serves the model.
Failures before the first chunk raise `UpstreamFailure` (the router may try another deployment);
failures after it raise `StreamBroken` (the client already has bytes; the stream ends with an
error event).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from omnigate.errors import BODY_VALIDATION, ApiError, bad_request


class UpstreamFailure(Exception):
    def __init__(self, error: ApiError, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after

    @classmethod
    def invalid(cls, param: str, detail: str) -> UpstreamFailure:
        """A body a backend (a local engine) refuses: the 400 that names the field, never retried."""
        error = bad_request(f"{BODY_VALIDATION} {param}: {detail}", param=param, code="body_validation")
        return cls(error, retryable=False)


class StreamBroken(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class ChunkStream(Protocol):
    """An open stream of `chat.completion.chunk` dicts; ends after the last chunk.

    An item may also be a list of chunks that arrived together: the gateway then writes them to
    the client in one go (one system call instead of one per chunk).
    """

    def __aiter__(self) -> AsyncIterator[dict | list[dict]]: ...

    async def aclose(self) -> None:
        """Stop early: the generation upstream (or in the engine) is cancelled."""


class ChatBackend(Protocol):
    name: str
    # True for built-in engines: their answers name the engine's own model id.
    local: bool
    # False for adapters that serve media only: chat models never route to them.
    serves_chat: bool
    # True when the backend is also a ResponsesBackend (OpenAI's Responses API spoken natively).
    speaks_responses: bool
    # True when the backend is also an EmbeddingBackend; embedding models route only to those.
    embeds: bool
    # Set for an upstream that bills in credits and says so on its answers (the service itself):
    # a call costs its figure times this. None: the gateway prices calls itself.
    markup: float | None
    # What a call to such an upstream holds before it answers (its cost is unknown until then).
    reserve_credits: int
    # The media families it serves (providers/media.py MediaBackend); empty for chat-only ones.
    media_families: frozenset[str]
    # The task families it runs with a task API of its own (providers/tasks.py TaskBackend).
    task_families: frozenset[str]

    async def complete(self, body: dict, *, account_id: int) -> dict: ...

    async def open_stream(self, body: dict, *, account_id: int) -> ChunkStream: ...


# The events that end a Responses stream (OpenAI sends no [DONE] after them).
RESPONSE_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesBackend(ChatBackend, Protocol):
    """A backend that takes Responses bodies as they are: `respond` returns a Response object,
    `open_response_stream` yields its typed stream events (the same stream protocol as chunks,
    ending after the terminal response.completed / .incomplete / .failed event)."""

    async def respond(self, body: dict) -> dict: ...

    async def open_response_stream(self, body: dict) -> ChunkStream: ...


class EmbeddingBackend(Protocol):
    name: str
    local: bool

    async def embed(self, body: dict, *, account_id: int) -> dict: ...
