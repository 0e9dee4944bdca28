"""Every synchronous catalogue model through the gateway, to the service itself as upstream.

One gateway routes every model (`model = "*"`) to a provider of kind "aimlapi" whose base URL is
the fake service (tests/fakes/aimlapi_upstream.py). Each model's smallest valid request
(tests/catalog/minimal_requests.py) must come back 200 in the service's shape for its type, with
the charge the fake reported (markup 1), and the fake must have accepted every body the gateway
forwarded: it checks them against the same rules the service applies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from omnigate.catalog.loader import Catalog, Model
from tests.catalog.minimal_requests import minimal_request, route_for, upload_fields
from tests.e2e.service_gateway import Setup, gateway_over_service
from tests.fakes.aimlapi_upstream import TRANSCRIPT, WAV, tokens_used

TYPES = ("chat-completion", "responses", "embedding", "image", "tts", "stt", "document")
MODELS = [m for m in Catalog.load().models if m.type in TYPES]


def _cases() -> list[Any]:
    return [pytest.param(model, id=model.id) for model in MODELS]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with gateway_over_service(tmp_path_factory.mktemp("catalogue_wide")) as running:
        yield running


async def _call(setup: Setup, model: Model) -> tuple[aiohttp.ClientResponse, bytes, dict[str, Any]]:
    """Send the model's minimal request to its route: multipart when its rules want a file."""
    path = route_for(model)
    assert path is not None
    body = minimal_request(model)
    files = upload_fields(model)
    headers = {"Authorization": f"Bearer {setup.key}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        if files:
            form = aiohttp.FormData()
            for name, value in body.items():
                if name not in files:
                    form.add_field(name, value if isinstance(value, str) else orjson.dumps(value).decode())
            for name in files:
                form.add_field(name, WAV, filename="speech.wav", content_type="audio/wav")
            request = http.post(setup.root + path, data=form, headers=headers)
        else:
            request = http.post(setup.root + path, json=body, headers=headers)
        async with request as response:
            return response, await response.read(), body


def _check_shape(model: Model, answer: dict[str, Any]) -> None:
    if model.type == "chat-completion":
        assert answer["object"] == "chat.completion"
        assert answer["choices"][0]["message"]["content"] == "echo: Hi"
    elif model.type == "responses":
        assert answer["object"] == "response"
        assert answer["output_text"] == "echo: hello"
    elif model.type == "embedding":
        assert answer["object"] == "list"
        assert answer["data"][0]["object"] == "embedding" and answer["data"][0]["embedding"]
    elif model.type == "image" and model.id == "triposr":
        assert answer["model_mesh"]["url"] and answer["model_mesh"]["file_name"] == "model.glb"
    elif model.type == "image":
        assert answer["data"] and all(d.get("url") or d.get("b64_json") for d in answer["data"])
    elif model.type == "tts":
        assert answer["audio"]["url"]
    elif model.type == "stt":
        if model.id.startswith("aai/"):
            assert answer["text"] == TRANSCRIPT
        else:
            assert answer["results"]["channels"][0]["alternatives"][0]["transcript"] == TRANSCRIPT
    elif model.type == "document":
        pages = answer["pages"] if "pages" in answer else answer["document"]["pages"]
        assert len(pages) == 1


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("model", _cases())
async def test_model_answers_through_the_gateway(setup: Setup, model: Model) -> None:
    setup.service.reset()

    response, raw, body = await _call(setup, model)

    assert response.status == 200, (raw.decode(errors="replace"), setup.service.fidelity_errors)
    assert setup.service.fidelity_errors == []
    assert len(setup.service.requests) == 1  # one attempt: nothing failed
    if response.content_type.startswith("audio/"):
        # The families whose /v1/tts answer is the audio itself (Deepgram, ElevenLabs, ...).
        assert model.type == "tts"
        assert raw == WAV
        return
    answer = orjson.loads(raw)
    _check_shape(model, answer)
    path = route_for(model)
    assert path is not None
    # Markup 1 and no [[prices]]: the client pays what the service charged.
    assert answer["meta"]["usage"]["tokens_used"] == tokens_used(path, body)


def test_every_synchronous_type_is_covered() -> None:
    assert {m.type for m in MODELS} == set(TYPES)
    assert len(MODELS) == 292
