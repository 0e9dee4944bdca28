"""OpenTelemetry traces, as an OTLP collector receives them: a span per request, a child span per
upstream attempt, with the GenAI attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.conftest import PRICED_MODEL, running_harness

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class FakeCollector:
    """An OTLP/HTTP collector that keeps the spans it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.services: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _traces(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in export.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    self.services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                self.spans.extend(scope.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")


def attributes(span: Any) -> dict[str, Any]:
    out = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind)
    return out


@pytest.fixture
async def collector() -> AsyncIterator[FakeCollector]:
    found = FakeCollector()
    await found.start()
    yield found
    await found.stop()


async def test_a_request_and_its_attempts_are_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector: FakeCollector
) -> None:
    extra = f'\n[telemetry]\notlp_endpoint = "{collector.url}"\nservice_name = "gateway-under-test"\n'
    async with running_harness(tmp_path, monkeypatch, extra=extra) as harness:
        harness.upstream.fail_next.append(500)  # the primary fails once: the backup answers
        client = harness.client(default_headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"})
        answer = await client.chat.completions.with_raw_response.create(
            model=PRICED_MODEL, messages=[{"role": "user", "content": "trace me"}], max_tokens=5
        )
        usage = answer.parse().usage
        sent = [h.get("traceparent", "") for h in (*harness.upstream.headers, *harness.backup.headers)]
    # The gateway sent its last spans as it stopped.
    assert collector.services == {"gateway-under-test"}
    [request] = [s for s in collector.spans if s.name == "POST /v1/chat/completions"]
    attempts = [s for s in collector.spans if s.parent_span_id == request.span_id]
    assert request.trace_id.hex() == TRACE_ID and request.parent_span_id.hex() == CALLER_SPAN
    seen = attributes(request)
    assert seen["http.response.status_code"] == 200
    assert seen["omnigate.request_id"] == answer.headers["x-request-id"]
    assert seen["gen_ai.request.model"] == PRICED_MODEL
    assert usage is not None
    assert (seen["gen_ai.usage.input_tokens"], seen["gen_ai.usage.output_tokens"]) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert [s.name for s in attempts] == ["chat gpt-4o-2024-08-06", "chat gpt-4o"]
    first, second = (attributes(s) for s in attempts)
    assert first["gen_ai.system"] == "openai" and first["gen_ai.operation.name"] == "chat"
    assert first["omnigate.provider"] == "primary" and second["omnigate.provider"] == "backup"
    assert first["gen_ai.request.max_tokens"] == 5
    assert attempts[0].status.code == 2 and attempts[1].status.code != 2  # STATUS_CODE_ERROR, then fine
    # Each upstream request carried its attempt's span as the W3C traceparent.
    assert sent == [f"00-{TRACE_ID}-{s.span_id.hex()}-01" for s in attempts]
