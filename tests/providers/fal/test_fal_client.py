"""The fake speaks fal's wire protocol as fal's official Python client (fal_client) expects it.

fal_client posts to `RUN_URL_FORMAT + app id`, built from `https://{FAL_RUN_HOST}/` when it is
imported; the tests point that at the fake. The client has no typed result models (its results
are plain JSON), so the shapes are checked here against fal's published types (fal-js
`endpoints.ts`: `Image`, the image apps' outputs, `triposrOutput`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import fal_client
import fal_client.client
import pytest

from tests.providers.fal.fake_fal import KEY, FakeFal


@pytest.fixture
async def client(fake: FakeFal, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[fal_client.AsyncClient]:
    monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", f"{fake.base_url}/")
    yield fal_client.AsyncClient(key=KEY)


def is_image(image: object) -> bool:
    # fal's `Image`: url required; width, height, content_type, file_name, file_size optional.
    return (
        isinstance(image, dict)
        and isinstance(image["url"], str)
        and all(isinstance(image.get(k, 0), int) for k in ("width", "height", "file_size"))
        and isinstance(image.get("content_type", ""), str)
    )


async def test_text_to_image_through_fal_client(client: fal_client.AsyncClient, fake: FakeFal) -> None:
    result = await client.run("fal-ai/flux/schnell", arguments={"prompt": "a red fox", "num_images": 2})
    assert fake.requests[-1].authorization == f"Key {KEY}"
    assert isinstance(result, dict) and set(result) == {
        "images",
        "timings",
        "seed",
        "has_nsfw_concepts",
        "prompt",
    }
    assert len(result["images"]) == 2 and all(is_image(i) for i in result["images"])
    assert isinstance(result["seed"], int) and result["has_nsfw_concepts"] == [False, False]
    assert result["prompt"] == "a red fox"


async def test_triposr_through_fal_client(client: fal_client.AsyncClient) -> None:
    result = await client.run("fal-ai/triposr", arguments={"image_url": "https://x.test/chair.png"})
    assert isinstance(result, dict) and {"model_mesh", "timings"} <= set(result)
    mesh = result["model_mesh"]
    assert (
        isinstance(mesh["url"], str)
        and isinstance(mesh["file_size"], int)
        and mesh["file_name"] == "model.glb"
    )


async def test_validation_errors_read_as_fal_client_reads_them(client: fal_client.AsyncClient) -> None:
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        await client.run("fal-ai/flux/schnell", arguments={"num_images": 2})
    error = caught.value
    assert error.status_code == 422
    # fal_client hands on the body's `detail`, here FastAPI's list of problems.
    assert error.message == [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]
