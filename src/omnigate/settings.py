"""One typed settings object, read from a TOML file and overridden by environment variables.

Precedence (later wins): built-in defaults < config file < environment. The config file is the
`--config` option, else `$OMNIGATE_CONFIG`, else none. Scalar keys of the `[server]`, `[database]`,
`[routing]`, `[billing]`, `[redis]`, `[engines]`, `[storage]`, `[tasks]`, `[request_log]`,
`[batches]`, `[telemetry]`, `[search]` and `[assistants]` tables can be overridden as
`OMNIGATE_<TABLE>_<KEY>` (for example `OMNIGATE_DATABASE_URL`, `OMNIGATE_REDIS_URL`,
`OMNIGATE_SERVER_PORT`); `OMNIGATE_DATA_DIR` moves the data folder.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from omnigate.settings_tables import (
    PROVIDER_KINDS,
    AssistantSettings,
    BatchSettings,
    BillingSettings,
    DatabaseSettings,
    EngineSettings,
    LocalModelSettings,
    PriceSettings,
    ProviderSettings,
    RedisSettings,
    RequestLogSettings,
    RouteSettings,
    RoutingSettings,
    SearchSettings,
    ServerSettings,
    StorageSettings,
    TaskSettings,
    TelemetrySettings,
)


class ConfigError(ValueError):
    """The configuration is invalid; the message says where and why."""


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
    assistants: AssistantSettings = field(default_factory=AssistantSettings)
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
    "assistants",
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
    _check_assistants(settings.assistants)
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
    _require("storage", storage, ("max_upload_mb",), lambda v: v > 0, "must be positive")
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
    _require("search", search, ("max_results",), lambda v: v >= 1, "must be at least 1")
    _require("search", search, ("timeout_s",), lambda v: v > 0, "must be positive")


def _require(
    table: str, section: object, names: tuple[str, ...], holds: Callable[[float], bool], says: str
) -> None:
    """Each named number of a section must satisfy `holds`; the error says `[table] name says`."""
    for name in names:
        if not holds(getattr(section, name)):
            raise ConfigError(f"[{table}] {name} {says}")


def _check_tasks(tasks: TaskSettings) -> None:
    times = ("poll_min_s", "poll_max_s", "lease_s", "max_age_s", "keep_s")
    _require("tasks", tasks, times, lambda v: v >= 0, "cannot be negative")
    _require("tasks", tasks, ("concurrency",), lambda v: v >= 1, "must be at least 1")
    _require("tasks", tasks, ("lease_s",), lambda v: v >= 1, "must be at least 1 second")


def _check_request_log(request_log: RequestLogSettings) -> None:
    _require("request_log", request_log, ("flush_interval_s",), lambda v: v > 0, "must be above 0")
    _require("request_log", request_log, ("max_pending",), lambda v: v >= 1, "must be at least 1")
    _require("request_log", request_log, ("metrics_window_s",), lambda v: v > 0, "must be above 0")


def _check_batches(batches: BatchSettings) -> None:
    _require("batches", batches, ("concurrency", "max_requests"), lambda v: v >= 1, "must be at least 1")
    _require("batches", batches, ("max_body_mb", "expires_s"), lambda v: v > 0, "must be positive")


def _check_assistants(assistants: AssistantSettings) -> None:
    _require("assistants", assistants, ("concurrency",), lambda v: v >= 1, "must be at least 1")
    _require("assistants", assistants, ("max_file_chunks",), lambda v: v >= 1, "must be at least 1")
    _require("assistants", assistants, ("chunk_tokens",), lambda v: v >= 16, "must be at least 16")
    if not 0 <= assistants.chunk_overlap_tokens <= assistants.chunk_tokens // 2:
        raise ConfigError("[assistants] chunk_overlap_tokens must be from 0 to half of chunk_tokens")


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
