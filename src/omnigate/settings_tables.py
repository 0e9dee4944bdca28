"""The tables of the config file, one dataclass each, with their defaults and what each key means.
omnigate.settings reads them from the file and the environment, and checks them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Wire protocols a [providers.*] table may name (providers/registry.py maps them to classes).
PROVIDER_KINDS = ("openai", "anthropic", "gemini", "cohere", "aimlapi", "deepgram", "fal")


@dataclass(slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Chat bodies carry base64 images and long histories; 32 MiB is generous yet bounded.
    max_body_mb: float = 32.0
    # Files sent with a request (multipart): images to edit, and audio to transcribe.
    max_image_mb: float = 25.0
    max_audio_mb: float = 100.0
    # URLs the gateway fetches for a client (audio to transcribe, ...): public addresses only,
    # unless this is set (a gateway on a private network serving its own files, say).
    allow_private_urls: bool = False
    max_fetch_mb: float = 100.0
    fetch_timeout_s: float = 60.0
    # How clients reach this gateway, for URLs it hands out (generated audio); empty: the Host
    # the request came to.
    public_url: str = ""
    # Browser apps on these origins may call the API ("https://app.example.com", or "*" for any);
    # none by default. A list, or one comma-separated string (OMNIGATE_SERVER_CORS_ORIGINS).
    cors_origins: list[str] = field(default_factory=list)
    # "text" (lines for people) or "json" (one object a line, with one access line per request).
    log_format: str = "text"
    # Put each request's prompt (messages, input) in its JSON access line; off: prompts are never
    # logged.
    log_prompts: bool = False

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


def megabytes(value: float) -> int:
    return int(value * 1024 * 1024)


@dataclass(slots=True)
class StorageSettings:
    """Where generated files the gateway serves itself live (audio it made into a URL, videos
    an upstream handed over as bytes, finished tasks' artifacts when `copy_artifacts` is on)."""

    folder: str = ""  # empty: files/ under the data folder
    # How long a URL handed out keeps working.
    ttl_s: float = 3600.0
    # Copy each finished task's video or audio from the upstream's URL (which may expire) into
    # this storage, and answer the gateway's own URL.
    copy_artifacts: bool = False
    # An S3-compatible bucket (AWS S3, MinIO, Ceph, R2) instead of the folder: files are answered
    # as presigned URLs that work for ttl_s (at most 7 days) from every replica.
    s3_bucket: str = ""
    s3_prefix: str = ""  # before each object's name; a bucket lifecycle rule on it deletes old files
    s3_endpoint_url: str = ""  # empty: AWS; else the server (http://minio:9000, ...)
    s3_region: str = ""  # empty: boto3's lookup (AWS_REGION, ~/.aws/config)
    # Environment variables holding the keys; empty: boto3's chain (AWS_ACCESS_KEY_ID, roles, ...).
    s3_access_key_id_env: str = ""
    s3_secret_access_key_env: str = ""
    # The largest file a user may upload (POST /v1/files), in MiB; files are kept in the database.
    max_upload_mb: float = 100.0


@dataclass(slots=True)
class TaskSettings:
    """Asynchronous generations (video, music, speech to text) and the runner that moves them."""

    # Run tasks inside `omnigate serve`; turn off where separate `omnigate worker` processes do.
    run: bool = True
    # Tasks one runner works on at once.
    concurrency: int = 16
    # Upstream polls back off from the first interval to the last (seconds).
    poll_min_s: float = 2.0
    poll_max_s: float = 30.0
    # How long a runner owns a task it took; another takes it over once this runs out.
    lease_s: float = 60.0
    # A task still not finished after this is given up and refunded in full.
    max_age_s: float = 86400.0
    # How long a finished task (and its result) can be polled, as the service keeps STT results.
    keep_s: float = 3600.0


@dataclass(slots=True)
class RequestLogSettings:
    """[request_log]: one row per request a key made (GET /v2/logs, /v2/usage, /models/metrics)."""

    enabled: bool = True
    # Rows are written in batches this often, off the request path.
    flush_interval_s: float = 1.0
    # Rows waiting for the database at most; beyond it (the database is away) new rows are dropped
    # and counted rather than held in memory without bound.
    max_pending: int = 10_000
    # /models/metrics measures the requests of this last stretch of time.
    metrics_window_s: float = 86_400.0


@dataclass(slots=True)
class BatchSettings:
    """Message batches (POST /v1/batches): run by the task runner, one chat call per request."""

    # Requests of batches one runner works on at once (each is one chat call).
    concurrency: int = 4
    # The most requests one batch may hold, and the largest create body (MiB).
    max_requests: int = 10_000
    max_body_mb: float = 32.0
    # A batch whose requests are not all done by then ends, the rest `expired` (never charged).
    expires_s: float = 86400.0


@dataclass(slots=True)
class AssistantSettings:
    """The Assistants API: its runs (run by the task runner, streamed ones by the request) and
    its file_search tool (knowledge/: how uploaded files are indexed)."""

    # Turns of runs one runner works on at once (each is one model call).
    concurrency: int = 4

    # The embedding model that indexes files and embeds queries: any catalogue embedding model
    # the routes serve, charged through the pipeline like /v1/embeddings (the local one is free).
    embedding_model: str = "local/all-minilm-l6-v2"
    # A file that cuts into more chunks than this is refused rather than indexed (about 150,000
    # words with all-MiniLM-L6-v2's 192-token chunks).
    max_file_chunks: int = 2000
    # Chunks of this many tokens, each overlapping the one before by this many (OpenAI's defaults;
    # the overlap is at most half a chunk). A model that reads fewer tokens gets smaller chunks
    # (knowledge/chunking.py). A change applies to files indexed after it.
    chunk_tokens: int = 800
    chunk_overlap_tokens: int = 400


@dataclass(slots=True)
class SearchSettings:
    """The AI search model (bagoodex/bagoodex-search-v1): which backend answers it. The first one
    set wins: a SearXNG instance, else a routed chat model that searches the web itself, else
    the operator's own documents searched in the process."""

    searxng_url: str = ""  # e.g. http://searxng:8080 (its JSON format must be enabled)
    # A [providers.*] name and the upstream model it serves (e.g. gpt-4o-search-preview).
    chat_provider: str = ""
    chat_model: str = ""
    local_documents: str = ""  # a folder of .txt / .md files, indexed at start-up
    # Optional, with SearXNG or the documents: a [providers.*] name and its upstream model that
    # writes the answer from the results (instead of the extractive answer).
    summarize_provider: str = ""
    summarize_model: str = ""
    max_results: int = 10  # links (and images, videos) kept per search
    timeout_s: float = 20.0

    @property
    def configured(self) -> bool:
        return bool(self.searxng_url or self.chat_provider or self.local_documents)


@dataclass(slots=True)
class DatabaseSettings:
    url: str = ""  # empty: SQLite under the data folder


@dataclass(slots=True)
class RedisSettings:
    # Empty: credits live in this process's memory. Set it to share live balances and
    # reservations between workers (`serve --workers N`) and replicas: redis://host:6379/0
    url: str = ""
    # Prefix of every key Omnigate writes, so several installations can share one Redis.
    prefix: str = "omnigate:"


@dataclass(slots=True)
class RoutingSettings:
    # Tries per request, first one included, across the model's deployments in order (a single
    # deployment is tried again); only before any byte reached the client.
    max_attempts: int = 3
    # Wait before trying the same deployment again: random up to base * 2^(n-1), at most max.
    backoff_base_s: float = 0.2
    backoff_max_s: float = 8.0
    # A deployment that fails this many times in a row sits out `cooldown_s` seconds.
    cooldown_after_failures: int = 3
    cooldown_s: float = 30.0
    connect_timeout_s: float = 10.0
    # Longest silence allowed between two bytes of an upstream answer.
    read_timeout_s: float = 300.0


@dataclass(slots=True)
class BillingSettings:
    # Output budget reserved when a request sets no max_tokens and the catalogue knows no limit.
    default_max_output_tokens: int = 4096
    low_balance_threshold: int = 10_000
    # Pending ledger entries are written to the database this often (seconds).
    flush_interval_s: float = 0.2
    # How often each server polls for admin changes (new keys, top-ups) made elsewhere.
    poll_interval_s: float = 0.5
    # A model served by an upstream with neither a list price nor a [[prices]] entry:
    # "refuse" answers 403 naming the missing entry; "free" serves it without charging.
    unpriced: str = "refuse"
    # Worst cases held for media whose size is unknown before the call: audio given as a URL
    # (seconds), and documents (pages).
    max_audio_seconds: int = 7200
    max_document_pages: int = 100


@dataclass(slots=True)
class EngineSettings:
    """The built-in local engines."""

    # Serve the models shipped in packages (SmolLM2 chat, all-MiniLM-L6-v2 embeddings).
    builtin: bool = True
    # CPU threads per chat model; 0 uses every core.
    threads: int = 0
    # Context window of the built-in chat model, in tokens.
    context_tokens: int = 4096
    # Requests that may wait for a busy local model before callers get 429.
    max_waiting: int = 16
    # The longest text the local speech engines speak, in characters (longer: 400).
    speech_max_characters: int = 4096
    # The longest audio the local transcriber takes, in seconds (longer: 400).
    transcribe_max_seconds: int = 1800
    # Where models shipped in parts are joined at first use ("": ~/.cache/omnigate/models).
    model_cache: str = ""
    # The built-in OCR engine's limits per request: pages read, and pixels of an image (a PDF
    # page is rendered smaller to fit).
    ocr_max_pages: int = 20
    ocr_max_pixels: int = 40_000_000


@dataclass(slots=True)
class LocalModelSettings:
    """An operator's own GGUF file, served by the built-in llama.cpp engine."""

    id: str
    path: Path
    name: str = ""
    context_tokens: int = 4096


@dataclass(slots=True)
class ProviderSettings:
    name: str
    kind: str = "openai"
    base_url: str = ""
    api_key_env: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # From a preset (providers/data/presets.json) or the config: catalogue developers whose chat
    # models route here, how ids become this provider's names, and protocol quirks.
    developers: list[str] = field(default_factory=list)
    # Catalogue ids (or globs) routed here too, where a developer's other models are not.
    include: list[str] = field(default_factory=list)
    names: str = "as_is"
    models: dict[str, str] = field(default_factory=dict)
    quirks: dict[str, Any] = field(default_factory=dict)
    # The upstream serves OpenAI's Responses API (POST /responses) too: /v1/responses requests
    # are passed through natively instead of being translated to chat completions.
    responses: bool = False
    # kind "aimlapi" (the service itself): a call costs the credits it reports times `markup`,
    # unless a [[prices]] entry prices the model; `reserve_credits` are held until it answers.
    markup: float = 1.0
    reserve_credits: int = 2_000_000

    def resolve_api_key(self) -> str | None:
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None


@dataclass(slots=True)
class RouteSettings:
    model: str  # catalogue id, alias or glob ("openai/*", "*")
    provider: str
    upstream_model: str | None = None


@dataclass(slots=True)
class PriceSettings:
    """An operator's price for a model, in USD: per million tokens, and per unit for the media
    families (an image, a second of audio, a character spoken, a page read, a request)."""

    model: str
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    per_image: float = 0.0
    per_second: float = 0.0
    per_character: float = 0.0
    per_page: float = 0.0
    per_request: float = 0.0


@dataclass(slots=True)
class TelemetrySettings:
    """Traces (OpenTelemetry, the `otel` extra) and the /metrics endpoint."""

    # An OTLP/HTTP collector ("http://127.0.0.1:4318"): a span per request and per upstream
    # attempt is sent there. Empty: no traces.
    otlp_endpoint: str = ""
    service_name: str = "omnigate"
    # Serve GET /metrics (Prometheus text format, no key).
    metrics: bool = True
