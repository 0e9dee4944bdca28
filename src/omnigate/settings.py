"""One typed settings object, read from a TOML file and overridden by environment variables.

Precedence (later wins): built-in defaults < config file < environment. The config file is the
`--config` option, else `$OMNIGATE_CONFIG`, else none. Scalar keys of the `[server]`, `[database]`,
`[routing]`, `[billing]`, `[redis]`, `[engines]`, `[storage]`, `[tasks]`, `[request_log]`,
`[batches]`, `[telemetry]` and `[search]` tables can be overridden as `OMNIGATE_<TABLE>_<KEY>` (for
example `OMNIGATE_DATABASE_URL`, `OMNIGATE_REDIS_URL`, `OMNIGATE_SERVER_PORT`);
`OMNIGATE_DATA_DIR` moves the data folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# Wire protocols a [providers.*] table may name (providers/registry.py maps them to classes).
PROVIDER_KINDS = ("openai", "anthropic", "gemini", "cohere", "aimlapi", "deepgram", "fal")


class ConfigError(ValueError):
    """The configuration is invalid; the message says where and why."""


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


@dataclass(slots=True)
class Settings:
    data_dir: Path = Path("data")
    config_path: Path | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    engines: EngineSettings = field(default_factory=EngineSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    tasks: TaskSettings = field(default_factory=TaskSettings)
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)
    batches: BatchSettings = field(default_factory=BatchSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    local_models: list[LocalModelSettings] = field(default_factory=list)
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    routes: list[RouteSettings] = field(default_factory=list)
    prices: list[PriceSettings] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'omnigate.db'}"


UNPRICED_CHOICES = ("refuse", "free")
_SCALAR_TABLES = (
    "server",
    "database",
    "redis",
    "routing",
    "billing",
    "engines",
    "storage",
    "tasks",
    "request_log",
    "batches",
    "telemetry",
    "search",
)
LOG_FORMATS = ("text", "json")
# The provider name under which the built-in engines serve; config cannot redefine it.
LOCAL_PROVIDER = "local"
# The provider name of the search backend ([search]); routes may name it, config cannot define it.
SEARCH_PROVIDER = "search"


def load_settings(config_path: str | Path | None = None) -> Settings:
    """Build the settings from defaults, the config file and the environment."""
    path = config_path or os.environ.get("OMNIGATE_CONFIG") or None
    raw: dict[str, Any] = {}
    if path:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc

    settings = Settings(config_path=Path(path) if path else None)
    if data_dir := os.environ.get("OMNIGATE_DATA_DIR") or raw.get("data_dir"):
        settings.data_dir = Path(data_dir)
    for table in _SCALAR_TABLES:
        _apply_table(getattr(settings, table), table, raw.get(table, {}))
    if settings.billing.unpriced not in UNPRICED_CHOICES:
        raise ConfigError(
            f"[billing] unpriced must be one of {', '.join(UNPRICED_CHOICES)}, "
            f"got {settings.billing.unpriced!r}"
        )
    _check_server(settings.server)
    _check_storage(settings.storage)
    _check_tasks(settings.tasks)
    _check_request_log(settings.request_log)
    _check_batches(settings.batches)
    settings.providers = _providers(raw.get("providers", {}))
    _check_search(settings.search, settings.providers)
    settings.local_models = [_local_model(i, m) for i, m in enumerate(raw.get("local_models", []))]
    known = {*settings.providers, LOCAL_PROVIDER}
    if settings.search.configured:
        known.add(SEARCH_PROVIDER)
    settings.routes = [_route(i, r, known) for i, r in enumerate(raw.get("routes", []))]
    settings.prices = [_price(i, p) for i, p in enumerate(raw.get("prices", []))]
    return settings


def _check_server(server: ServerSettings) -> None:
    if server.log_format not in LOG_FORMATS:
        raise ConfigError(
            f"[server] log_format must be one of {', '.join(LOG_FORMATS)}, got {server.log_format!r}"
        )
    origins = []
    for origin in server.cors_origins:
        origin = origin.strip().rstrip("/")
        # An origin is scheme://host[:port]; a browser never sends a path, so one would never match.
        if origin != "*" and (
            not origin.startswith(("http://", "https://")) or "/" in origin.split("://")[1]
        ):
            raise ConfigError(
                f'[server] cors_origins: {origin!r} is not an origin ("https://app.example.com" or "*")'
            )
        origins.append(origin)
    server.cors_origins = origins


def _check_storage(storage: StorageSettings) -> None:
    if not storage.s3_bucket:
        return
    if not 1 <= storage.ttl_s <= 604_800:
        raise ConfigError(
            "[storage] ttl_s must be 1 to 604800 seconds with s3_bucket (presigned URLs last 7 days)"
        )
    names = (storage.s3_access_key_id_env, storage.s3_secret_access_key_env)
    if any(names) and not all(names):
        raise ConfigError("[storage] s3_access_key_id_env and s3_secret_access_key_env go together")
    for name in filter(None, names):
        if not os.environ.get(name):
            raise ConfigError(f"[storage] names ${name}, which is not set")


def _check_search(search: SearchSettings, providers: dict[str, ProviderSettings]) -> None:
    if search.searxng_url and not search.searxng_url.startswith(("http://", "https://")):
        raise ConfigError('[search] searxng_url must be "http(s)://..."')
    for provider, model in (("chat_provider", "chat_model"), ("summarize_provider", "summarize_model")):
        name = getattr(search, provider)
        if not name:
            continue
        if name not in providers:
            raise ConfigError(f"[search] {provider} names {name!r}, which no [providers.*] table defines")
        if not getattr(search, model):
            raise ConfigError(f"[search] {provider} needs {model} (the upstream model to call)")
    if search.local_documents and not Path(search.local_documents).expanduser().is_dir():
        raise ConfigError(f"[search] local_documents: {search.local_documents} is not a folder")
    if search.max_results < 1:
        raise ConfigError("[search] max_results must be at least 1")
    if search.timeout_s <= 0:
        raise ConfigError("[search] timeout_s must be positive")


def _check_tasks(tasks: TaskSettings) -> None:
    for name in ("poll_min_s", "poll_max_s", "lease_s", "max_age_s", "keep_s"):
        if getattr(tasks, name) < 0:
            raise ConfigError(f"[tasks] {name} cannot be negative")
    if tasks.concurrency < 1:
        raise ConfigError("[tasks] concurrency must be at least 1")
    if tasks.lease_s < 1:
        raise ConfigError("[tasks] lease_s must be at least 1 second")


def _check_request_log(request_log: RequestLogSettings) -> None:
    if request_log.flush_interval_s <= 0:
        raise ConfigError("[request_log] flush_interval_s must be above 0")
    if request_log.max_pending < 1:
        raise ConfigError("[request_log] max_pending must be at least 1")
    if request_log.metrics_window_s <= 0:
        raise ConfigError("[request_log] metrics_window_s must be above 0")


def _check_batches(batches: BatchSettings) -> None:
    for name in ("concurrency", "max_requests"):
        if getattr(batches, name) < 1:
            raise ConfigError(f"[batches] {name} must be at least 1")
    for name in ("max_body_mb", "expires_s"):
        if getattr(batches, name) <= 0:
            raise ConfigError(f"[batches] {name} must be positive")


def _apply_table(target: Any, table: str, values: dict[str, Any]) -> None:
    known = {f.name: f for f in fields(target)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"[{table}] has no setting {key!r}; known: {', '.join(known)}")
        setattr(target, key, _coerce(table, key, getattr(target, key), value))
    for key in known:
        env = f"OMNIGATE_{table.upper()}_{key.upper()}"
        if env in os.environ:
            setattr(target, key, _coerce(env, "", getattr(target, key), os.environ[env]))


def _coerce(where: str, key: str, current: Any, value: Any) -> Any:
    kind = type(current)
    name = f"{where}.{key}" if key else where
    if kind is list:
        # A list setting also takes one comma-separated string (the only form an env var has).
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{name} must be a list of strings, got {value!r}")
        return [i.strip() for i in items if i.strip()]
    try:
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}") from exc


def _providers(raw: dict[str, Any]) -> dict[str, ProviderSettings]:
    providers = {}
    for name, spec in raw.items():
        if name in (LOCAL_PROVIDER, SEARCH_PROVIDER):
            raise ConfigError(
                f"[providers.{name}] is reserved for the built-in engines and search; pick another name"
            )
        if not isinstance(spec, dict):
            raise ConfigError(f"[providers.{name}] must be a table")
        if "preset" in spec:
            spec = {**_preset(name, spec["preset"]), **spec}
        kind = spec.get("kind", "openai")
        if kind not in PROVIDER_KINDS:
            raise ConfigError(
                f"[providers.{name}] kind {kind!r} is not supported; use one of {PROVIDER_KINDS}"
            )
        base_url = str(spec.get("base_url", "")).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f'[providers.{name}] needs base_url = "http(s)://..."')
        responses = spec.get("responses", False)
        if not isinstance(responses, bool):
            raise ConfigError(f"[providers.{name}] responses must be true or false, got {responses!r}")
        if responses and kind != "openai":
            raise ConfigError(f'[providers.{name}] responses = true needs kind = "openai"')
        providers[name] = ProviderSettings(
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_env=spec.get("api_key_env"),
            api_key=spec.get("api_key"),
            headers={str(k): str(v) for k, v in spec.get("headers", {}).items()},
            developers=list(spec.get("developers", [])),
            include=list(spec.get("include", [])),
            names=str(spec.get("names", "as_is")),
            models=dict(spec.get("models", {})),
            quirks=dict(spec.get("quirks", {})),
            responses=responses,
            **_billing_of(name, spec),
        )
    return providers


def _billing_of(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """`markup` and `reserve_credits`, which only an upstream that bills in credits has."""
    found = {k: spec[k] for k in ("markup", "reserve_credits") if k in spec}
    if found and spec.get("kind") != "aimlapi":
        raise ConfigError(f'[providers.{name}] {next(iter(found))} needs kind = "aimlapi"')
    try:
        markup = float(found.get("markup", 1.0))
        reserve = int(found.get("reserve_credits", 2_000_000))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[providers.{name}] markup and reserve_credits must be numbers") from exc
    if markup < 0 or reserve < 0:
        raise ConfigError(f"[providers.{name}] markup and reserve_credits cannot be negative")
    return {"markup": markup, "reserve_credits": reserve}


def _preset(provider: str, name: Any) -> dict[str, Any]:
    from omnigate.providers.presets import presets

    known = presets()
    if name not in known:
        raise ConfigError(
            f"[providers.{provider}] preset {name!r} is unknown; presets: {', '.join(sorted(known))}"
        )
    return known[name]


def _route(index: int, raw: Any, providers: set[str]) -> RouteSettings:
    if not isinstance(raw, dict) or "model" not in raw or "provider" not in raw:
        raise ConfigError(f"routes[{index}] needs `model` and `provider`")
    if raw["provider"] not in providers:
        raise ConfigError(
            f"routes[{index}] names provider {raw['provider']!r}, which no [providers.*] table defines"
        )
    return RouteSettings(
        model=str(raw["model"]),
        provider=str(raw["provider"]),
        upstream_model=raw.get("upstream_model"),
    )


def _price(index: int, raw: Any) -> PriceSettings:
    if not isinstance(raw, dict) or "model" not in raw:
        raise ConfigError(f"prices[{index}] needs `model`")
    units = {f.name for f in fields(PriceSettings)} - {"model"}
    unknown = set(raw) - units - {"model", "per_minute"}
    if unknown:
        raise ConfigError(
            f"prices[{index}] has no setting {sorted(unknown)[0]!r}; known: {', '.join(sorted(units))}"
        )
    try:
        values = {name: float(raw.get(name, 0.0)) for name in units}
        # Speech-to-text is often sold by the minute; it is charged by the second.
        values["per_second"] += float(raw.get("per_minute", 0.0)) / 60
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"prices[{index}]: prices must be numbers ({exc})") from exc
    if any(value < 0 for value in values.values()):
        raise ConfigError(f"prices[{index}]: prices cannot be negative")
    return PriceSettings(model=str(raw["model"]), **values)


def _local_model(index: int, raw: Any) -> LocalModelSettings:
    if not isinstance(raw, dict) or "id" not in raw or "path" not in raw:
        raise ConfigError(f"local_models[{index}] needs `id` and `path` (a GGUF file)")
    path = Path(raw["path"]).expanduser()
    if not path.is_file():
        raise ConfigError(f"local_models[{index}]: {path} is not a file")
    try:
        return LocalModelSettings(
            id=str(raw["id"]),
            path=path,
            name=str(raw.get("name", "")),
            context_tokens=int(raw.get("context_tokens", 4096)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"local_models[{index}]: {exc}") from exc
