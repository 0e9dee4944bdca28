"""The fake speaks fal's wire protocol as fal's official Python client (fal_client) expects it.

fal_client posts to `RUN_URL_FORMAT + app id`, and submits to `QUEUE_URL_FORMAT + app id`, built
from `https://{FAL_RUN_HOST}/` and `https://{FAL_QUEUE_RUN_HOST}/` when it is imported; the tests
point those at the fake. Its queue answers are read by fal_client's own status classes (`Queued`,
`InProgress`, `Completed`), and its request URLs are those fal_client builds from a request id.
The client has no typed result models (its results are plain JSON), so the shapes are checked here
against fal's published types (fal-js `endpoints.ts`: `Image`, the image apps' outputs,
`triposrOutput`, the video apps' `{video: File}`, Stable Audio's `{audio_file: File}`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import fal_client
import fal_client.client
import pytest

from omnigate.providers.fal.client import FalProvider
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


# --- The queue: fal_client's submit, status, result and its own handles for a request id ---


@pytest.fixture
async def queue_client(
    fake: FakeFal, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[fal_client.AsyncClient]:
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{fake.queue_url}/")
    yield fal_client.AsyncClient(key=KEY)


KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


async def test_a_queued_request_through_fal_client(
    queue_client: fal_client.AsyncClient, fake: FakeFal, provider: FalProvider
) -> None:
    handle = await queue_client.submit(KLING, arguments={"prompt": "a red fox", "duration": "5"})
    # The URLs the fake answered are those fal_client builds for the request id, and the adapter's.
    own = await queue_client.get_handle(KLING, handle.request_id)
    assert (handle.status_url, handle.response_url, handle.cancel_url) == (
        own.status_url,
        own.response_url,
        own.cancel_url,
    )
    assert handle.response_url == str(provider.request_url(KLING, handle.request_id))
    assert await handle.status() == fal_client.Queued(position=0)
    assert await handle.status(with_logs=True) == fal_client.InProgress(logs=[])
    done = await handle.status()
    assert isinstance(done, fal_client.Completed) and done.error is None and "inference_time" in done.metrics
    result = await queue_client.result(KLING, handle.request_id)
    assert set(result) == {"video"} and result["video"]["content_type"] == "video/mp4"
    assert isinstance(result["video"]["url"], str) and isinstance(result["video"]["file_size"], int)


async def test_a_failed_request_as_fal_client_sees_it(queue_client: fal_client.AsyncClient) -> None:
    handle = await queue_client.submit("fal-ai/veo3", arguments={"prompt": "a storm [fail]"})
    statuses = [status async for status in handle.iter_events(interval=0)]
    assert [type(s).__name__ for s in statuses] == ["Queued", "InProgress", "Completed"]
    completed = statuses[-1]
    assert isinstance(completed, fal_client.Completed)
    assert (completed.error, completed.error_type) == ("Internal server error", "internal_error")
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        await handle.get(interval=0)
    assert caught.value.status_code == 500


async def test_an_input_refused_when_it_runs_as_fal_client_sees_it(
    queue_client: fal_client.AsyncClient,
) -> None:
    handle = await queue_client.submit("fal-ai/stable-audio", arguments={"seconds_total": 10})
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        await handle.get(interval=0)
    assert caught.value.status_code == 422
    assert caught.value.message == [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]


async def test_music_results_through_fal_client(queue_client: fal_client.AsyncClient) -> None:
    for app, key in (("fal-ai/stable-audio", "audio_file"), ("fal-ai/lyria2", "audio")):
        handle = await queue_client.submit(app, arguments={"prompt": "rain", "seconds_total": 2})
        result = await handle.get(interval=0)
        assert set(result) == {key} and result[key]["content_type"] == "audio/wav"
