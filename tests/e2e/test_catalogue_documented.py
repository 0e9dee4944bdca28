"""Ids the reference documents beyond the seed's tables, through the gateway to the fake service.

A user following a model's docs page sends the id that page lists; each newly catalogued chat,
Responses and speech-to-text id answers its smallest valid request, a documented alias answers
as its model, and a retired alias or a case variant of a retired id answers 404 "no longer
available" naming the model (and its replacement where the docs name one), while an unknown id
still answers "does not exist". The catalogue-wide tests cover every model; these name the ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from omnigate.catalog.loader import Catalog
from tests.catalog.minimal_requests import minimal_request
from tests.e2e.service_gateway import Setup, gateway_over_service

CATALOG = Catalog.load()
NEW_CHAT = [
    "openai/gpt-5-2",
    "openai/gpt-5-2-chat-latest",
    "gryphe/mythomax-l2-13b",
    "bagoodex/bagoodex-search-v1",
]
NEW_RESPONSES = ["openai/gpt-5-2-pro", "openai/gpt-5-pro"]
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with gateway_over_service(
        tmp_path_factory.mktemp("documented"), "[engines]\nbuiltin = false\n"
    ) as running:
        yield running


def _client(setup: Setup) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=setup.root + "/v1", api_key=setup.key, max_retries=0)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("model_id", NEW_CHAT)
async def test_new_chat_ids_answer(setup: Setup, model_id: str) -> None:
    setup.service.reset()
    model = CATALOG.lookup(model_id)
    assert model is not None
    body = minimal_request(model)

    answer = await _client(setup).chat.completions.create(**body)

    assert answer.choices[0].message.content == "echo: Hi"
    assert setup.service.fidelity_errors == []
    forwarded = setup.service.requests[-1].body
    assert forwarded is not None and forwarded["model"] == model_id


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("model_id", NEW_RESPONSES)
async def test_new_responses_ids_answer(setup: Setup, model_id: str) -> None:
    setup.service.reset()
    answer = await _client(setup).responses.create(model=model_id, input="hello")

    assert answer.output_text == "echo: hello"
    assert setup.service.fidelity_errors == []


@pytest.mark.asyncio(loop_scope="module")
async def test_new_speech_to_text_id_answers(setup: Setup) -> None:
    setup.service.reset()
    model = CATALOG.lookup("#g1_redaction")
    assert model is not None

    status, answer = await setup.call("POST", "/v1/stt", json=minimal_request(model))

    assert status == 200, (answer, setup.service.fidelity_errors)
    assert answer["results"]["channels"][0]["alternatives"][0]["transcript"]


@pytest.mark.asyncio(loop_scope="module")
async def test_documented_aliases_answer_as_their_model(setup: Setup) -> None:
    setup.service.reset()
    client = _client(setup)
    image = await client.images.generate(model="gpt-image-1", prompt="a red cube")
    assert image.data and (image.data[0].url or image.data[0].b64_json)
    chat = await client.chat.completions.create(model="anthropic/claude-sonnet-4-5", messages=MESSAGES)
    assert chat.choices[0].message.content == "echo: Hi"
    status, ocr = await setup.call(
        "POST",
        "/v1/ocr",
        json={
            "model": "mistral-ocr-latest",
            "document": {"type": "document_url", "document_url": "https://example.com/paper.pdf"},
        },
    )
    assert status == 200, ocr
    assert setup.service.fidelity_errors == []


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("anthropic/claude-3.5-sonnet", None),  # a retired alias the docs still list
        ("claude-3-5-sonnet-latest", None),
        ("O1-MINI", None),  # a case variant of retired o1-mini
        ("meta-llama/Llama-2-7b-chat-hf", None),  # its page spells retired Meta-Llama/... so
        ("Gryphe/MythoMax-L2-13b", "gryphe/mythomax-l2-13b"),  # retired; the docs list its twin
    ],
)
async def test_retired_ids_are_no_longer_available(setup: Setup, name: str, replacement: str | None) -> None:
    setup.service.reset()
    with pytest.raises(openai.NotFoundError) as caught:
        await _client(setup).chat.completions.create(model=name, messages=MESSAGES)

    error = caught.value
    assert "no longer available" in error.message and repr(name) in error.message
    assert "does not exist" not in error.message
    assert isinstance(error.body, dict) and error.body["code"] == "model_deprecated"
    assert error.body["param"] == "model"
    if replacement:
        assert f"Use {replacement!r} instead" in error.message
    assert setup.service.requests == []  # refused before any upstream is asked


@pytest.mark.asyncio(loop_scope="module")
async def test_unknown_ids_do_not_exist(setup: Setup) -> None:
    client = _client(setup)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="no-such/model", messages=MESSAGES)
    assert "does not exist" in caught.value.message and "Did you mean" not in caught.value.message
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_found"

    # A name that spells an id another way: the error points at the id.
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="openai/gpt-5.2", messages=MESSAGES)
    assert "does not exist" in caught.value.message
    assert "Did you mean 'openai/gpt-5-2'?" in caught.value.message
