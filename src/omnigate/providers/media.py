"""What a backend that serves the synchronous media families offers the gateway.

Every family speaks the service's own format inside the gateway: a job carries the service's
request body for its route (the fields the model's rules know, `model` set to the deployment's
upstream name) and the uploaded files; a result carries the service's answer for the family.
Each adapter translates between that and its provider's wire format, so the handlers stay the
same whoever serves the model:

- `image` (POST /v1/images/generations): result body `{data: [{url or b64_json, ...}], ...}`, or
  triposr's `{model_mesh: {url, ...}}`.
- `image-edit` (POST /v1/images/edits, its form fields as the body): result as `image`; the files
  are `image` (one or more) and `mask`.
- `tts` (POST /v1/tts): result `audio` bytes with their `content_type`, or body `{audio: {url}}`.
- `stt` (POST /v1/stt: a `url` in the body, or a file `audio`): result body is the transcript
  object, Deepgram's `{metadata{duration}, results{channels[{alternatives[{transcript}]}]}}` or
  AssemblyAI's `{text, audio_duration, ...}`.
- `ocr` (POST /v1/ocr): result body `{pages: [{index, markdown, ...}], usage_info}` (Mistral's
  shape) or Google Document AI's.
- `vision` (POST /vision, Google Cloud Vision's request: no model): result body Google's
  annotate answer.

Failures are raised as `UpstreamFailure` (providers/base.py), as the chat adapters do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from omnigate.billing.pricing import Used

FAMILIES = ("image", "image-edit", "tts", "stt", "ocr", "vision")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file the client sent (multipart), held in memory within the route's size limit."""

    field: str  # the form field: "image", "mask", "file", "audio"
    filename: str
    content_type: str
    data: bytes


# Fetches a URL the client gave, for an upstream that wants bytes: only public http(s) addresses,
# within a size limit and a timeout (http/fetch.py); failures are 4xx ApiErrors naming the URL.
Fetch = Callable[[str], Awaitable[Upload]]


async def _no_fetch(url: str) -> Upload:
    raise RuntimeError("this job was built without a fetcher")


@dataclass(slots=True)
class MediaJob:
    family: str  # one of FAMILIES
    body: dict
    files: list[Upload] = field(default_factory=list)
    # For adapters whose upstream takes bytes where the client gave a URL (an STT `url`, say).
    fetch: Fetch = _no_fetch
    # For local engines: whose turn it is (fair queues by account), and whether the client that
    # waits for the answer has left (None: no client waits, as for a task).
    account_id: int = 0
    gone: Callable[[], bool] | None = None

    def file(self, name: str) -> Upload | None:
        return next((f for f in self.files if f.field == name), None)


@dataclass(slots=True)
class MediaResult:
    body: dict | None = None  # a JSON answer in the service's shape for the family
    audio: bytes | None = None  # or audio (text-to-speech)
    content_type: str | None = None  # of `audio`
    # What the call used, for billing: images made, seconds of audio, characters spoken, pages.
    used: Used = field(default_factory=Used)
    # What an upstream that bills in credits charged (its `meta.usage.tokens_used`).
    upstream_credits: int | None = None


class MediaBackend(Protocol):
    name: str
    local: bool
    markup: float | None
    reserve_credits: int
    # The families this backend serves; a media model routes only to backends that serve its family.
    media_families: frozenset[str]

    async def run_media(self, job: MediaJob) -> MediaResult: ...


# Reading the service's answers (what every adapter produces), for billing and for the routes
# that reshape them.
def audio_seconds(transcript: dict) -> float:
    """The duration a transcript object reports (Deepgram's metadata, AssemblyAI's, OpenAI's)."""
    metadata = transcript.get("metadata")
    for value in (
        metadata.get("duration") if isinstance(metadata, dict) else None,
        transcript.get("audio_duration"),
        transcript.get("duration"),
    ):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return 0.0


def document_pages(answer: dict) -> int:
    info = answer.get("usage_info")
    if isinstance(info, dict) and isinstance(info.get("pages_processed"), int):
        return info["pages_processed"]
    pages = answer.get("pages")
    return len(pages) if isinstance(pages, list) else 1
