"""The `fal` preset behind the real gateway: POST /v1/images/generations with OpenAI's SDK and the
service's own fields, answered by the fake fal upstream."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest

from omnigate.catalog.loader import Catalog
from omnigate.providers.presets import presets
from omnigate.settings import load_settings
from tests.catalog.minimal_requests import minimal_request
from tests.providers.fal.fake_fal import KEY, FakeFal
from tests.server import funded_account, serve


@dataclass
class Gateway:
    root: str
    key: str

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.root}/v1", api_key=self.key, max_retries=0)


@pytest.fixture
async def gateway(fake: FakeFal, tmp_path: Path) -> AsyncIterator[Gateway]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"

            [engines]
            builtin = false

            [billing]
            unpriced = "free"

            [providers.fal]
            preset = "fal"
            base_url = "{fake.base_url}"
            api_key = "{KEY}"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 10**9)
    try:
        async with serve(settings) as (_, root):
            yield Gateway(root, key)
    finally:
        db.close()


async def test_the_openai_sdk_generates_images_through_fal(gateway: Gateway, fake: FakeFal) -> None:
    answer = await gateway.client().images.generate(model="flux/schnell", prompt="a lighthouse at dawn")
    sent = fake.requests[-1]
    assert sent.app == "fal-ai/flux/schnell" and sent.body["prompt"] == "a lighthouse at dawn"
    assert sent.authorization == f"Key {KEY}"
    assert answer.data is not None and len(answer.data) == 1
    assert answer.data[0].url is not None and answer.data[0].url.startswith(fake.base_url)
    extra = answer.model_extra or {}
    # fal's own fields stay beside `data`, and the service's billing block is added.
    assert extra["images"][0]["url"] == answer.data[0].url and isinstance(extra["seed"], int)
    assert "tokens_used" in extra["meta"]["usage"]


async def test_fal_fields_and_base64_answers(gateway: Gateway, fake: FakeFal) -> None:
    answer = await gateway.client().images.generate(
        model="flux/schnell",
        prompt="two red foxes",
        response_format="b64_json",
        extra_body={"num_images": 2, "image_size": "square"},
    )
    assert fake.requests[-1].body == {"prompt": "two red foxes", "num_images": 2, "image_size": "square"}
    assert answer.data is not None and len(answer.data) == 2
    png = base64.b64decode(answer.data[0].b64_json or "")
    assert png.startswith(b"\x89PNG") and answer.data[0].url is None


async def test_triposr_answers_its_mesh(gateway: Gateway, fake: FakeFal) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.root}/v1/images/generations",
            json={"model": "triposr", "image_url": "https://x.test/chair.png", "output_format": "glb"},
            headers={"Authorization": f"Bearer {gateway.key}"},
        ) as response,
    ):
        answer = await response.json()
    assert response.status == 200, answer
    assert fake.requests[-1].app == "fal-ai/triposr"
    assert answer["model_mesh"]["file_name"] == "model.glb" and answer["model_mesh"]["url"].startswith(
        fake.base_url
    )


async def test_fal_refusing_the_input_reaches_the_client_as_a_4xx(gateway: Gateway, fake: FakeFal) -> None:
    fake.answer_next(
        422, {"detail": [{"loc": ["body", "prompt"], "msg": "String should have at most 10 characters"}]}
    )
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        await gateway.client().images.generate(model="flux/schnell", prompt="a prompt that is too long")
    assert "prompt: String should have at most 10 characters" in caught.value.message


async def test_every_model_of_the_preset_reaches_its_fal_app(gateway: Gateway, fake: FakeFal) -> None:
    """Each model's smallest valid request, as the catalogue's rules have it, is one fal accepts."""
    catalog = Catalog.load()
    apps = presets()["fal"]["models"]
    failed = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {gateway.key}"}) as session:
        for model_id, app in apps.items():
            body = minimal_request(catalog.lookup(model_id))
            async with session.post(f"{gateway.root}/v1/images/generations", json=body) as response:
                answer = await response.json()
            if response.status != 200 or fake.requests[-1].app != app:
                failed[model_id] = (response.status, fake.requests[-1].app, answer)
            elif "model_mesh" not in answer and not answer["data"][0]["url"].startswith(fake.base_url):
                failed[model_id] = (response.status, app, answer)
    assert failed == {}
