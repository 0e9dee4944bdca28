"""Every video, music and speech-to-text model of the catalogue, on each endpoint /models lists
for it, through the gateway to a fake of the service whose tasks change state as they poll.

One gateway routes every model to a provider of kind "aimlapi" (markup 1). For each model and
endpoint: create with the model's smallest valid body (tests/catalog/minimal_requests.py), poll
that endpoint until the task completes, and check the result's shape and what it cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from omnigate.catalog.loader import Catalog, Model
from tests.catalog.minimal_requests import minimal_request, upload_fields
from tests.e2e.conftest import eventually
from tests.e2e.service_gateway import Setup, gateway_over_service
from tests.fakes.aimlapi_upstream import MP3, TRANSCRIPT, WAV, tokens_used

TASK_TYPES = ("video", "audio", "stt")
MODELS = [m for m in Catalog.load().models if m.type in TASK_TYPES]


def _cases() -> list[Any]:
    return [
        pytest.param(model, endpoint, id=f"{model.id} {endpoint}")
        for model in MODELS
        for endpoint in model.endpoints
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    quick_polls = """
        [engines]
        builtin = false
        [tasks]
        poll_min_s = 0.01
        poll_max_s = 0.02
        """
    async with gateway_over_service(tmp_path_factory.mktemp("catalogue_tasks"), quick_polls) as running:
        yield running


async def _create(
    setup: Setup, model: Model, endpoint: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    files = upload_fields(model)
    if not files:
        return await setup.call("POST", endpoint, json=body)
    form = aiohttp.FormData()
    for name, value in body.items():
        if name not in files:
            form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
    for name in files:
        form.add_field(name, WAV, filename="speech.wav", content_type="audio/wav")
    return await setup.call("POST", endpoint, data=form)


async def _finished(setup: Setup, poll_path: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}

    async def ended() -> bool:
        nonlocal answer
        status, answer = await setup.call("GET", poll_path)
        assert status == 200, answer
        return answer["status"] in ("completed", "error")

    await eventually(ended, timeout=10.0)
    return answer


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("model", "endpoint"), _cases())
async def test_task_model_completes_on_its_endpoint(setup: Setup, model: Model, endpoint: str) -> None:
    body = minimal_request(model)
    if endpoint == "/v2/generate/audio/minimax/generate":  # synchronous: the song at once
        body["lyrics"] = "[Verse] a red cube"
        status, answer = await setup.call("POST", endpoint, json=body)
        assert status == 200, (answer, setup.service.fidelity_errors)
        assert bytes.fromhex(answer["data"]["audio"]) == MP3
        assert answer["meta"]["usage"]["tokens_used"] == tokens_used(endpoint, body)
        return

    status, created = await _create(setup, model, endpoint, body)
    assert status in (200, 201), (created, setup.service.fidelity_errors)
    assert setup.service.fidelity_errors == []
    if model.type == "stt":
        done = await _finished(setup, f"/v1/stt/{created['generation_id']}")
        assert done["status"] == "completed", done
        transcript = done["result"]
        text = transcript.get("text") or transcript["results"]["channels"][0]["alternatives"][0]["transcript"]
        assert text == TRANSCRIPT
        return
    assert created["status"] == "queued" and created["id"].endswith(":" + model.id)
    # Markup 1: the client pays what the service charged at creation (on its unified route).
    upstream_route = "/v2/video/generations" if model.type == "video" else "/v2/generate/audio"
    assert created["meta"]["usage"]["tokens_used"] == tokens_used(upstream_route, body)
    done = await _finished(setup, f"{endpoint}?generation_id={created['id']}")
    assert done["status"] == "completed", done
    assert done["video" if model.type == "video" else "audio_file"]["url"]
    assert done["meta"]["usage"]["tokens_used"] == created["meta"]["usage"]["tokens_used"]


def test_every_task_model_and_endpoint_is_covered() -> None:
    counts = {kind: len([m for m in MODELS if m.type == kind]) for kind in TASK_TYPES}
    assert counts == {"video": 88, "audio": 6, "stt": 18}
    endpoints = {e for m in MODELS for e in m.endpoints}
    assert "/v2/generate/video/kling/generation" in endpoints and "/v1/stt/create" in endpoints
