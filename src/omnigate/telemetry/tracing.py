"""OpenTelemetry traces (`[telemetry] otlp_endpoint`, the `otel` extra): a span per request and a
child span per upstream attempt, with the GenAI semantic conventions (gen_ai.*).

Off unless configured: then nothing here runs on a request's path. A caller's W3C `traceparent`
makes the request's span a child of the caller's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from aiohttp import web

from omnigate.settings import TelemetrySettings
from omnigate.telemetry.record import RECORD

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from omnigate.catalog.loader import Model
    from omnigate.routing.router import Deployment

log = logging.getLogger(__name__)
T = TypeVar("T")

# gen_ai.operation.name of each catalogue type (the GenAI conventions' well-known names).
OPERATIONS = {"chat-completion": "chat", "responses": "chat", "embedding": "embeddings"}
# gen_ai.system of each provider kind (settings.PROVIDER_KINDS), where the conventions name one.
SYSTEMS = {"gemini": "gcp.gemini", "aimlapi": "aimlapi"}


class Tracing:
    def __init__(self, provider: TracerProvider, kinds: dict[str, str] | None = None) -> None:
        from opentelemetry import propagate, trace

        self.provider = provider
        # Provider name -> gen_ai.system, from the config's provider kinds.
        self.systems = {name: SYSTEMS.get(kind, kind) for name, kind in (kinds or {}).items()}
        self.tracer = provider.get_tracer("omnigate")
        self._trace = trace
        self._propagate = propagate

    @classmethod
    def from_settings(cls, settings: TelemetrySettings, kinds: dict[str, str]) -> Tracing | None:
        if not settings.otlp_endpoint:
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            from omnigate.settings import ConfigError

            raise ConfigError(
                "[telemetry] otlp_endpoint needs the OpenTelemetry packages: pip install 'omnigate[otel]'"
            ) from exc
        provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        # Spans are exported in batches by a thread of the SDK's: never on a request's path.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        return cls(provider, kinds)

    def shutdown(self) -> None:
        """Send what is still buffered (blocking: call it off the event loop)."""
        self.provider.shutdown()

    # -- the request's span ---------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Outside the error boundary: the span lasts as long as the request, and once the answer
        is sent, the record the boundary filled gives its attributes."""
        trace = self._trace
        info = request.match_info.route.resource
        route = info.canonical if info is not None else ""
        parent = self._propagate.extract(request.headers)
        with self.tracer.start_as_current_span(
            f"{request.method} {route}" if route else request.method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": request.method, "http.route": route, "url.path": request.path},
        ) as span:
            try:
                return await handler(request)
            finally:
                record = request.get(RECORD)
                if record is not None:
                    _describe(span, record)

    def client_trace_config(self) -> aiohttp.TraceConfig:
        """For the providers' HTTP sessions: each upstream request carries the current span (its
        attempt's) as a W3C traceparent, so an upstream that traces joins the trace."""
        config = aiohttp.TraceConfig()

        async def on_request_start(
            session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
        ) -> None:
            self._propagate.inject(params.headers)

        config.on_request_start.append(on_request_start)
        return config

    # -- an upstream attempt's span -------------------------------------------------------------
    def attempts(
        self, send_one: Callable[[Deployment], Awaitable[T]], model: Model, body: dict, request_id: str
    ) -> Callable[[Deployment], Awaitable[T]]:
        """`send_one`, with a span around each call (each attempt of routing/attempts.py)."""
        trace = self._trace
        operation = OPERATIONS.get(model.type, model.type)

        async def traced(deployment: Deployment) -> T:
            backend = deployment.backend
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": operation,
                "gen_ai.system": self.systems.get(backend.name, backend.name),
                "gen_ai.request.model": deployment.upstream_model,
                "omnigate.model": model.id,
                "omnigate.provider": backend.name,
                "omnigate.deployment": deployment.label,
                "omnigate.request_id": request_id,
            }
            for name, attribute in (
                ("max_tokens", "gen_ai.request.max_tokens"),
                ("max_completion_tokens", "gen_ai.request.max_tokens"),
                ("temperature", "gen_ai.request.temperature"),
                ("top_p", "gen_ai.request.top_p"),
            ):
                found = body.get(name)
                if isinstance(found, int | float) and not isinstance(found, bool):
                    attributes[attribute] = found
            with self.tracer.start_as_current_span(
                f"{operation} {deployment.upstream_model}", kind=trace.SpanKind.CLIENT, attributes=attributes
            ):
                return await send_one(deployment)

        return traced


def _describe(span: Any, record: Any) -> None:
    """The request span's attributes from its record (telemetry/record.py)."""
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", record.status)
    span.set_attribute("omnigate.request_id", record.request_id)
    if record.model:
        span.set_attribute("gen_ai.request.model", record.model)
        span.set_attribute("gen_ai.response.model", record.model)
    if record.provider:
        span.set_attribute("omnigate.provider", record.provider)
    if record.prompt_tokens or record.completion_tokens:
        span.set_attribute("gen_ai.usage.input_tokens", record.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", record.completion_tokens)
    if record.credits:
        span.set_attribute("omnigate.credits", record.credits)
    if record.stream:
        span.set_attribute("omnigate.stream", True)
    if record.ttft_ms is not None:
        span.set_attribute("omnigate.time_to_first_token_ms", record.ttft_ms)
    if record.status >= 500:
        span.set_status(Status(StatusCode.ERROR, record.error_code or ""))
    if record.error_code:
        span.set_attribute("error.type", record.error_code)
