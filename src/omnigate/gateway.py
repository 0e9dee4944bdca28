"""Everything a request handler needs, built once at start-up and torn down at exit."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from omnigate.billing.book import CreditBook
from omnigate.billing.outbox import Outbox
from omnigate.billing.pricing import Tariff
from omnigate.billing.redis_book import RedisCreditBook
from omnigate.catalog.loader import Catalog, Model, Price
from omnigate.engines.local import LocalBackend, catalogue_model, local_specs
from omnigate.errors import ApiError
from omnigate.http.auth import KeyCache
from omnigate.http.fetch import Fetcher
from omnigate.http.files import FileStore
from omnigate.providers.presets import upstream_name
from omnigate.providers.registry import build_provider
from omnigate.routing.health import DeploymentHealth
from omnigate.routing.router import MEDIA_FAMILY_OF_TYPE, TASK_FAMILY_OF_TYPE, Deployment, Router
from omnigate.search.provider import SEARCH_MODEL, build_search_provider
from omnigate.settings import LOCAL_PROVIDER, SEARCH_PROVIDER, RouteSettings, Settings
from omnigate.settings_tables import megabytes
from omnigate.store.db import Database
from omnigate.sync import StateSync
from omnigate.tasks.runner import TaskRunner
from omnigate.telemetry.logs import AccessLog
from omnigate.telemetry.metrics import Metrics
from omnigate.telemetry.model_metrics import ModelMetrics
from omnigate.telemetry.record import Observer
from omnigate.telemetry.request_log import RequestLogWriter
from omnigate.telemetry.tracing import Tracing

if TYPE_CHECKING:
    from omnigate.http.s3 import S3Store

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: Settings
    catalog: Catalog
    db: Database
    book: CreditBook | RedisCreditBook
    keys: KeyCache
    sync: StateSync
    providers: dict[str, Any]
    local: LocalBackend
    router: Router
    fetcher: Fetcher  # URLs fetched for clients (audio to transcribe, ...)
    files: FileStore | S3Store  # files the gateway keeps (generated audio, videos) for clients
    runner: TaskRunner = field(init=False)  # moves asynchronous generations (tasks/runner.py)
    request_log: RequestLogWriter = field(init=False)  # one row per request (telemetry/request_log.py)
    model_metrics: ModelMetrics = field(init=False)  # GET /models/metrics, read from the request log
    # Each finished request's record goes to these (telemetry/record.py): metrics, request logs.
    observers: list[Observer] = field(default_factory=list)
    metrics: Metrics | None = None  # what GET /metrics shows; None: [telemetry] metrics = false
    in_flight: int = 0  # requests being answered now (the error boundary counts them)
    tracing: Tracing | None = None  # OpenTelemetry spans; None: [telemetry] otlp_endpoint unset
    # Records keep their prompt only for the one reader of it: the JSON access log, when asked to.
    keep_prompts: bool = False
    _tariffs: dict[str, Tariff | None] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, catalog: Catalog | None = None) -> Gateway:
        catalog = catalog or Catalog.load()
        specs = local_specs(settings)
        for spec in specs:
            catalog.add(catalogue_model(spec))
        apply_price_overrides(catalog, settings)
        db = Database(settings.database_url)
        # This process's name in ledger entry ids, outbox files, Redis fields and the change feed.
        origin = uuid.uuid4().hex[:16]
        outbox = Outbox(settings.data_dir / "outbox", origin)
        keys = KeyCache()
        book: CreditBook | RedisCreditBook
        if settings.redis.url:
            book = RedisCreditBook(settings.redis.url, settings.redis.prefix, origin, outbox)
            book.key_limits = keys.limits_of
        else:
            book = CreditBook(origin, outbox)
        sync = StateSync(
            db,
            book,
            keys,
            outbox,
            flush_interval_s=settings.billing.flush_interval_s,
            poll_interval_s=settings.billing.poll_interval_s,
        )
        keys.lookup = sync.lookup_key
        providers = {}
        for name, spec in settings.providers.items():
            api_key = spec.resolve_api_key()
            if spec.api_key_env and not api_key:
                log.warning(
                    "provider %s: $%s is not set; calls will go without a key",
                    name,
                    spec.api_key_env,
                )
            providers[name] = build_provider(spec, settings.routing, api_key)
        local = LocalBackend(settings, specs)
        search = build_search_provider(settings.search, db, providers)
        if search is not None:
            providers[SEARCH_PROVIDER] = search
        # A local model is served by its engine first, whatever catch-all route the config has,
        # and the search model by [search] (its follow-up routes read what that backend found);
        # providers that name developers (presets) take their models after the explicit routes.
        routes = [
            *(RouteSettings(model=s.id, provider=LOCAL_PROVIDER) for s in specs),
            *([RouteSettings(model=SEARCH_MODEL, provider=SEARCH_PROVIDER)] if search else []),
            *settings.routes,
            *developer_routes(catalog, settings, providers),
        ]
        health = DeploymentHealth(
            failures_to_cool=settings.routing.cooldown_after_failures, cooldown_s=settings.routing.cooldown_s
        )
        router = Router(routes, {**providers, LOCAL_PROVIDER: local}, health)
        server = settings.server
        fetcher = Fetcher(
            allow_private=server.allow_private_urls,
            max_bytes=megabytes(server.max_fetch_mb),
            timeout_s=server.fetch_timeout_s,
        )
        files = file_store(settings)
        gateway = cls(settings, catalog, db, book, keys, sync, providers, local, router, fetcher, files)
        gateway.runner = TaskRunner(gateway, owner=origin)
        logged = settings.request_log
        gateway.request_log = RequestLogWriter(
            db, flush_interval_s=logged.flush_interval_s, max_pending=logged.max_pending
        )
        if logged.enabled:
            gateway.observers.append(gateway.request_log)
        gateway.model_metrics = ModelMetrics(db, window_s=logged.metrics_window_s)
        if settings.telemetry.metrics:
            gateway.metrics = Metrics(gateway)
            gateway.observers.append(gateway.metrics)
        if settings.server.log_format == "json":
            gateway.observers.append(AccessLog(log_prompts=settings.server.log_prompts))
            gateway.keep_prompts = settings.server.log_prompts
        kinds = {name: spec.kind for name, spec in settings.providers.items()}
        gateway.tracing = Tracing.from_settings(settings.telemetry, {**kinds, LOCAL_PROVIDER: "local"})
        if gateway.tracing is not None:
            for provider in providers.values():
                provider.trace_configs.append(gateway.tracing.client_trace_config())
        gateway.warn_unpriced()
        return gateway

    async def start(self, *, run_tasks: bool | None = None) -> None:
        """Start the background work; the task runner too unless `[tasks] run` (or `run_tasks`)
        says another process runs tasks."""
        await self.fetcher.start()
        for provider in self.providers.values():
            await provider.start()
        await self.book.start()
        await self.sync.start()
        if self.settings.request_log.enabled:
            await self.request_log.start()
        if self.metrics is not None:
            await self.metrics.start()
        if self.settings.tasks.run if run_tasks is None else run_tasks:
            await self.runner.start()

    async def stop(self) -> None:
        if self.metrics is not None:
            await self.metrics.stop()
        await self.runner.stop()
        await self.request_log.stop()
        await self.sync.stop()
        await self.book.close()
        for provider in self.providers.values():
            await provider.close()
        await self.fetcher.close()
        self.local.close()
        self.db.close()
        if self.tracing is not None:
            # The exporter's last batch goes out over blocking HTTP: not on the event loop.
            await asyncio.to_thread(self.tracing.shutdown)

    def backend(self, provider: str) -> Any | None:
        """A backend by its provider name (the built-in engines' is "local"); None when the
        config no longer has it."""
        return self.local if provider == LOCAL_PROVIDER else self.providers.get(provider)

    def tariff(self, model: Model, deployments: list[Deployment]) -> Tariff | None:
        """What a request to `model` over these deployments costs per unit; None when it is free.

        A model with no price is free on local engines, and an upstream that bills in credits says
        what it charged. Served by any other upstream, it would spend the operator's money for
        nothing: refused (403) unless [billing] unpriced = "free".
        """
        if model.price is None and not model.local and any(_bills_operator(d) for d in deployments):
            if self.settings.billing.unpriced == "refuse":
                raise unpriced(model)
            return None
        if model.id not in self._tariffs:
            self._tariffs[model.id] = Tariff.from_price(model.price)
        return self._tariffs[model.id]

    def warn_unpriced(self) -> None:
        """Name the models that upstreams serve without a price, once, at start-up."""
        found = [
            m.id
            for m in self.catalog.models
            if m.price is None and not m.local and any(_bills_operator(d) for d in self.router.deployments(m))
        ]
        if found:
            action = "are refused (403)" if self.settings.billing.unpriced == "refuse" else "are served free"
            shown = ", ".join(found[:20]) + (f" and {len(found) - 20} more" if len(found) > 20 else "")
            log.warning(
                "%d routed models have no price and %s until [[prices]] entries name them: %s",
                len(found),
                action,
                shown,
            )


def file_store(settings: Settings) -> FileStore | S3Store:
    """Where the files the gateway keeps for clients go: a local folder, or an S3 bucket."""
    storage = settings.storage
    if not storage.s3_bucket:
        return FileStore(Path(storage.folder or settings.data_dir / "files"), storage.ttl_s)
    from omnigate.http.s3 import S3Store  # boto3 loads only where a bucket is configured

    return S3Store(
        storage.s3_bucket,
        prefix=storage.s3_prefix,
        ttl_s=storage.ttl_s,
        endpoint_url=storage.s3_endpoint_url,
        region=storage.s3_region,
        access_key_id=os.environ.get(storage.s3_access_key_id_env, "")
        if storage.s3_access_key_id_env
        else "",
        secret_access_key=(
            os.environ.get(storage.s3_secret_access_key_env, "") if storage.s3_secret_access_key_env else ""
        ),
    )


def _bills_operator(deployment: Deployment) -> bool:
    """An upstream whose calls cost the operator money the gateway cannot read off its answers."""
    return not deployment.backend.local and deployment.backend.markup is None


def unpriced(model: Model) -> ApiError:
    return ApiError(
        403,
        f"The model {model.id!r} has no price, so calls to its upstream cannot be charged. "
        f'The operator can add a [[prices]] entry with model = "{model.id}" to the config '
        '(or set [billing] unpriced = "free").',
        code="model_unpriced",
        param="model",
    )


def developer_routes(catalog: Catalog, settings: Settings, providers: dict[str, Any]) -> list[RouteSettings]:
    """Routes for the models of the developers a provider (usually a preset) serves: their chat
    models, and their media models of the families the provider's protocol serves."""
    routes = []
    for provider in settings.providers.values():
        if not provider.developers and not provider.include:
            continue
        backend = providers[provider.name]
        families = backend.media_families | backend.task_families
        for model in catalog.models:
            named = any(fnmatchcase(model.id, pattern) for pattern in provider.include)
            if model.developer not in provider.developers and not named:
                continue
            chat = model.type in ("chat-completion", "responses")
            family = MEDIA_FAMILY_OF_TYPE.get(model.type) or TASK_FAMILY_OF_TYPE.get(model.type)
            if chat or family in families:
                name = upstream_name(model, provider.names, provider.models)
                routes.append(RouteSettings(model=model.id, provider=provider.name, upstream_model=name))
    return routes


def apply_price_overrides(catalog: Catalog, settings: Settings) -> None:
    """Operator prices (config [[prices]]) replace list prices; later entries win."""
    for spec in settings.prices:
        matched = catalog.matching(spec.model)
        if not matched:
            log.warning("[[prices]] model %r matches no catalogue model", spec.model)
        for model in matched:
            model.price = Price(
                input_per_token=spec.input_per_million / 1_000_000,
                output_per_token=spec.output_per_million / 1_000_000,
                output_per_image=spec.per_image or None,
                output_per_second=spec.per_second or None,
                input_per_character=spec.per_character or None,
                per_page=spec.per_page or None,
                per_request=spec.per_request or None,
            )
            model.operator_priced = True


GATEWAY = web.AppKey("gateway", Gateway)
REQUEST_ID = web.RequestKey("request_id", str)
