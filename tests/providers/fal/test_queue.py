"""The fal adapter's video and music tasks against the fake fal queue: submit, poll to the end,
and the ways a request fails."""

from __future__ import annotations

import aiohttp
import pytest

from omnigate.billing.pricing import Used
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.fal.client import FalProvider
from omnigate.providers.media import MediaJob
from omnigate.providers.tasks import Polled
from tests.providers.fal.fake_fal import KEY, FakeFal

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.read()


async def run(
    provider: FalProvider, family: str, polls: int = 10, **body: object
) -> tuple[str, list[Polled]]:
    """Submit a job and poll it until it ends (at most `polls` times): its task id and the polls."""
    submitted = await provider.submit_task(family, MediaJob(family=family, body=body))
    assert submitted.status == "queued"
    seen = []
    for _ in range(polls):
        seen.append(await provider.poll_task(family, submitted.upstream_id))
        if seen[-1].status in ("completed", "error"):
            break
    return submitted.upstream_id, seen


async def test_a_video_goes_through_the_queue_to_its_result(provider: FalProvider, fake: FakeFal) -> None:
    task_id, polls = await run(
        provider, "video", model="klingai/v2.1-master-text-to-video", prompt="a red fox", duration=5
    )
    sent = fake.submitted[-1]
    assert (sent.app, sent.body, sent.authorization) == (
        KLING,
        {"prompt": "a red fox", "duration": "5"},
        f"Key {KEY}",
    )
    app, _, request_id = task_id.partition("|")
    assert app == KLING and request_id in fake.queued
    assert [p.status for p in polls] == ["queued", "generating", "completed"]
    # The queue names the request under the app's owner and alias only.
    base = f"/fal-ai/kling-video/requests/{request_id}"
    assert fake.polled == [f"{base}/status"] * 3 + [base]
    done = polls[-1]
    assert done.result is not None and set(done.result) == {"video"}
    video = done.result["video"]
    assert video["content_type"] == "video/mp4" and video["file_name"] == "output.mp4"
    assert done.used == Used() and "duration" not in video
    data = await fetch(video["url"])
    assert data[4:8] == b"ftyp" and len(data) == video["file_size"]


async def test_a_video_that_says_its_seconds_is_billed_by_them(provider: FalProvider, fake: FakeFal) -> None:
    _, polls = await run(
        provider,
        "video",
        model="bytedance/omnihuman",
        image_url="https://x.test/face.png",
        audio_url="https://x.test/voice.mp3",
    )
    assert fake.submitted[-1].app == "fal-ai/bytedance/omnihuman"
    done = polls[-1]
    assert done.status == "completed" and done.used == Used(seconds=4.2)
    assert done.result is not None and done.result["video"]["duration"] == 4.2


@pytest.mark.parametrize(
    ("model", "body", "app"),
    [
        ("stable-audio", {"prompt": "lofi beats", "seconds_total": 3}, "fal-ai/stable-audio"),
        (
            "elevenlabs/eleven_music",
            {"prompt": "a waltz", "music_length_ms": 2000},
            "fal-ai/elevenlabs/music",
        ),
    ],
)
async def test_music_goes_through_the_queue_to_its_audio_file(
    provider: FalProvider, fake: FakeFal, model: str, body: dict, app: str
) -> None:
    _, polls = await run(provider, "music", model=model, **body)
    assert fake.submitted[-1].app == app and fake.submitted[-1].body == body
    done = polls[-1]
    assert [p.status for p in polls] == ["queued", "generating", "completed"]
    assert done.result is not None and set(done.result) == {"audio_file"}
    audio = done.result["audio_file"]
    data = await fetch(audio["url"])
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) == audio["file_size"]


async def test_a_failed_generation_ends_the_task_without_fals_internals(provider: FalProvider) -> None:
    _, polls = await run(provider, "video", model="google/veo-3.1-t2v", prompt="a storm [fail]")
    failed = polls[-1]
    assert [p.status for p in polls] == ["queued", "generating", "error"]
    assert failed.result is None and failed.error is not None
    assert "server error (500)" in failed.error
    assert "gpu-17" not in failed.error and "fal.internal" not in failed.error


async def test_an_input_the_app_refuses_ends_the_task_naming_the_field(provider: FalProvider) -> None:
    # fal checks an input when the request runs: the queue takes it, the result is its 422.
    _, polls = await run(provider, "video", model="klingai/v2-master-text-to-video", prompt="p", duration=7)
    failed = polls[-1]
    assert failed.status == "error"
    assert failed.error == "duration: Input should be '5' or '10'"


async def test_a_4xx_at_submit_reaches_the_client(provider: FalProvider, fake: FakeFal) -> None:
    fake.answer_next(400, {"detail": f"Invalid request body (key {KEY})"}, route="submit")
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task(
            "video", MediaJob(family="video", body={"model": "google/veo3", "prompt": "p"})
        )
    failed = caught.value
    assert (failed.error.status, failed.retryable) == (400, False)
    assert failed.error.message.startswith("Invalid request body") and KEY not in failed.error.message


async def test_an_app_fal_does_not_host_is_refused_at_submit(provider: FalProvider) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task(
            "video", MediaJob(family="video", body={"model": "fal-ai/nope", "prompt": "p"})
        )
    assert caught.value.error.status == 404 and not caught.value.retryable


async def test_refused_credentials_at_submit_are_the_gateways_problem(fake: FakeFal) -> None:
    backend = FalProvider("fal", fake.base_url, api_key="fal-wrong-key-0a1b2c3d", queue_url=fake.queue_url)
    await backend.start()
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await backend.submit_task(
                "music", MediaJob(family="music", body={"model": "stable-audio", "prompt": "p"})
            )
    finally:
        await backend.close()
    assert (caught.value.error.status, caught.value.error.code, caught.value.retryable) == (
        502,
        "upstream_auth",
        True,
    )


async def test_a_server_error_while_polling_is_passed_on_and_the_next_poll_goes_on(
    provider: FalProvider, fake: FakeFal
) -> None:
    submitted = await provider.submit_task(
        "video", MediaJob(family="video", body={"model": "veo2", "prompt": "p"})
    )
    fake.answer_next(503, {"detail": "no runners"}, route="status")
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", submitted.upstream_id)
    assert (caught.value.error.status, caught.value.retryable) == (502, True)
    assert (await provider.poll_task("video", submitted.upstream_id)).status == "queued"


async def test_a_passing_server_error_at_the_result_is_passed_on(
    provider: FalProvider, fake: FakeFal
) -> None:
    submitted = await provider.submit_task(
        "video", MediaJob(family="video", body={"model": "veo2", "prompt": "p"})
    )
    for expected in ("queued", "generating"):
        assert (await provider.poll_task("video", submitted.upstream_id)).status == expected
    fake.answer_next(502, {"detail": "bad gateway"}, route="result")
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", submitted.upstream_id)
    assert caught.value.retryable
    # The request did not fail: asked again, its result is there.
    assert (await provider.poll_task("video", submitted.upstream_id)).status == "completed"


async def test_a_task_is_polled_from_its_id_alone(provider: FalProvider, fake: FakeFal) -> None:
    """Another instance (the gateway restarted) polls a task from the id the first one made."""
    submitted = await provider.submit_task(
        "music", MediaJob(family="music", body={"model": "google/lyria2", "prompt": "rain on a tin roof"})
    )
    other = FalProvider("fal", fake.base_url, api_key=KEY, queue_url=fake.queue_url)
    await other.start()
    try:
        statuses = [(await other.poll_task("music", submitted.upstream_id)).status for _ in range(3)]
    finally:
        await other.close()
    assert statuses == ["queued", "generating", "completed"]


async def test_a_task_id_not_made_here_is_an_error(provider: FalProvider) -> None:
    for upstream_id in ("", "no-separator", "fal-ai/veo2|", "fal-ai/veo2|../../admin"):
        polled = await provider.poll_task("video", upstream_id)
        assert polled.status == "error" and polled.error


async def test_an_unknown_request_is_refused(provider: FalProvider) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", "fal-ai/veo2|0b6f7c1e-0000-4000-8000-000000000000")
    assert caught.value.error.status == 404


async def test_speech_to_text_is_not_a_fal_task(provider: FalProvider) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task(
            "stt", MediaJob(family="stt", body={"model": "x", "url": "https://x.test/a.mp3"})
        )
    assert caught.value.error.code == "model_not_configured" and caught.value.retryable


def test_fals_own_hosts_put_the_queue_on_its_host() -> None:
    backend = FalProvider("fal", "https://fal.run", api_key=KEY)
    assert backend.queue_root == "https://queue.fal.run"
    assert (
        str(backend.request_url(KLING, "abc-1")) == "https://queue.fal.run/fal-ai/kling-video/requests/abc-1"
    )
