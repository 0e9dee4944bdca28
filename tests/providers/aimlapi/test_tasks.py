"""The `aimlapi` adapter's tasks (video, music, speech to text) against the fake service: what
goes on the wire, what each poll says, what a finished task hands the gateway, and failures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from omnigate.billing.pricing import Used
from omnigate.providers.aimlapi.client import AimlapiProvider, failure_reason
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.tasks import Polled
from tests.fakes.aimlapi_upstream import (
    AUDIO_SECONDS,
    CREDITS_PER_AUDIO_SECOND,
    CREDITS_PER_TRACK,
    CREDITS_PER_VIDEO_SECOND,
    FAIL_MARK,
    MP3,
    MP4,
    TRANSCRIPT,
    VIDEO_SECONDS,
    WAV,
    FakeAimlapiUpstream,
    UploadedFile,
)

from .conftest import KEY


def job(family: str, **body: Any) -> MediaJob:
    return MediaJob(family=family, body=body)


async def poll_until_done(provider: AimlapiProvider, family: str, upstream_id: str) -> list[Polled]:
    """Every answer up to the first that ends the task (the fake ends one on its third poll)."""
    seen = [await provider.poll_task(family, upstream_id)]
    while seen[-1].status not in ("completed", "error"):
        assert len(seen) < 10, "the task never ended"
        seen.append(await provider.poll_task(family, upstream_id))
    return seen


async def download(url: str) -> tuple[str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return response.content_type, await response.read()


async def refusal(call: Callable[[], Any]) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as caught:
        await call()
    return caught.value


# ---------------------------------------------------------------------- to completion


async def test_video_runs_to_completion(provider: AimlapiProvider, fake: FakeAimlapiUpstream) -> None:
    body = {"model": "google/veo-3.1-t2v", "prompt": "a red fox in snow", "duration": 8}

    submitted = await provider.submit_task("video", job("video", **body))
    polls = await poll_until_done(provider, "video", submitted.upstream_id)

    assert submitted.upstream_id.endswith(":google/veo-3.1-t2v")
    uuid.UUID(submitted.upstream_id.partition(":")[0])
    assert submitted.status == "queued"
    assert submitted.upstream_credits == 8 * CREDITS_PER_VIDEO_SECOND
    assert [p.status for p in polls] == ["queued", "generating", "completed"]
    assert [p.result for p in polls[:2]] == [None, None]
    done = polls[-1]
    assert done.result is not None and set(done.result) == {"video"}
    assert done.result["video"]["duration"] == 8
    assert done.used == Used(seconds=8)
    assert await download(done.result["video"]["url"]) == ("video/mp4", MP4)
    # The body went out as it was, with the gateway's key; each poll named the task.
    create, *polled = fake.requests
    assert (create.path, create.body) == ("/v2/video/generations", body)
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert [(r.path, r.body) for r in polled] == [
        ("/v2/video/generations", {"generation_id": submitted.upstream_id})
    ] * 3
    assert fake.fidelity_errors == []


async def test_a_finished_task_keeps_its_result(provider: AimlapiProvider) -> None:
    submitted = await provider.submit_task("video", job("video", model="luma/ray-2", prompt="waves"))
    polls = await poll_until_done(provider, "video", submitted.upstream_id)

    again = await provider.poll_task("video", submitted.upstream_id)

    assert again == polls[-1]
    assert again.used == Used(seconds=VIDEO_SECONDS)  # no duration asked: the model's default
    assert submitted.upstream_credits == VIDEO_SECONDS * CREDITS_PER_VIDEO_SECOND


async def test_music_runs_to_completion(provider: AimlapiProvider, fake: FakeAimlapiUpstream) -> None:
    body = {"model": "elevenlabs/eleven_music", "prompt": "calm piano", "music_length_ms": 20000}

    submitted = await provider.submit_task("music", job("music", **body))
    polls = await poll_until_done(provider, "music", submitted.upstream_id)

    assert submitted.upstream_id.endswith(":elevenlabs/eleven_music")
    assert submitted.upstream_credits == CREDITS_PER_TRACK
    assert [p.status for p in polls] == ["queued", "generating", "completed"]
    done = polls[-1]
    assert done.result is not None and set(done.result) == {"audio_file"}
    track = done.result["audio_file"]
    assert (track["content_type"], track["file_name"], track["file_size"]) == (
        "audio/mpeg",
        "output.mp3",
        len(MP3),
    )
    assert await download(track["url"]) == ("audio/mpeg", MP3)
    assert done.used.seconds == 0  # the service says nothing of a track's length
    assert [r.path for r in fake.requests] == ["/v2/generate/audio"] * 4
    assert fake.requests[0].body == body


async def test_speech_to_text_from_a_url(provider: AimlapiProvider, fake: FakeAimlapiUpstream) -> None:
    body = {"model": "#g1_whisper-large", "url": "https://example.com/talk.wav", "punctuate": True}

    submitted = await provider.submit_task("stt", job("stt", **body))
    polls = await poll_until_done(provider, "stt", submitted.upstream_id)

    uuid.UUID(submitted.upstream_id)  # a bare uuid, no model suffix
    assert (submitted.status, submitted.upstream_credits) == (
        "queued",
        AUDIO_SECONDS * CREDITS_PER_AUDIO_SECOND,
    )
    # The service's `waiting` and `active` read as the gateway's statuses.
    assert [p.status for p in polls] == ["queued", "generating", "completed"]
    transcript = polls[-1].result
    assert transcript is not None
    assert transcript["results"]["channels"][0]["alternatives"][0]["transcript"] == TRANSCRIPT
    assert polls[-1].used == Used(seconds=AUDIO_SECONDS)
    assert (fake.requests[0].path, fake.requests[0].body, fake.requests[0].files) == (
        "/v1/stt/create",
        body,
        [],
    )
    assert [r.path for r in fake.requests[1:]] == [f"/v1/stt/{submitted.upstream_id}"] * 3


async def test_speech_to_text_from_an_upload(provider: AimlapiProvider, fake: FakeAimlapiUpstream) -> None:
    upload = Upload(field="audio", filename="talk.wav", content_type="audio/wav", data=WAV)
    stt = MediaJob(family="stt", body={"model": "aai/slam-1", "speaker_labels": True}, files=[upload])

    submitted = await provider.submit_task("stt", stt)
    polls = await poll_until_done(provider, "stt", submitted.upstream_id)

    sent = fake.requests[0]
    assert sent.path == "/v1/stt/create"
    assert sent.body == {"model": "aai/slam-1", "speaker_labels": "true"}  # form fields are text
    assert sent.files == [UploadedFile("audio", "talk.wav", "audio/wav", len(WAV))]
    assert "application/json" not in sent.headers["content-type"]
    done = polls[-1]
    assert done.status == "completed"
    assert done.result is not None
    assert (done.result["text"], done.result["status"]) == (TRANSCRIPT, "completed")
    assert done.used == Used(seconds=AUDIO_SECONDS)
    assert fake.fidelity_errors == []


# ---------------------------------------------------------------------- failed generations


@pytest.mark.parametrize(
    ("family", "body", "reason"),
    [
        (
            "video",
            {"model": "google/veo-3.1-t2v", "prompt": f"{FAIL_MARK} a fox"},
            "The prompt was flagged by the content filter",
        ),
        (
            "music",
            {"model": "google/lyria2", "prompt": f"jazz {FAIL_MARK}"},
            "The track could not be generated",
        ),
        (
            "stt",
            {"model": "#g1_nova-2-general", "url": f"https://example.com/{FAIL_MARK}.wav"},
            "The audio could not be decoded",
        ),
    ],
    ids=["video", "music", "stt"],
)
async def test_a_failed_generation_ends_in_error(
    provider: AimlapiProvider, family: str, body: dict[str, Any], reason: str
) -> None:
    submitted = await provider.submit_task(family, job(family, **body))
    polls = await poll_until_done(provider, family, submitted.upstream_id)

    assert [p.status for p in polls] == ["queued", "generating", "error"]
    failed = polls[-1]
    assert (failed.error, failed.result, failed.used.seconds) == (reason, None, 0)
    # It was charged on creation: the gateway refunds it, knowing what was charged.
    assert submitted.upstream_credits is not None and submitted.upstream_credits > 0


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("Generation timeout", "Generation timeout"),
        ({"name": "Error", "message": "NSFW content detected"}, "NSFW content detected"),
        (
            {"detail": [{"loc": ["body", "image_url"], "msg": "Could not detect face"}]},
            "Could not detect face",
        ),
        ({"detail": "Internal error"}, "Internal error"),
        (
            "upstream https://internal.example:8443/job/42 rejected key sk-proj-abcdef123456",
            "upstream [url] rejected key [redacted]",
        ),
        ("x" * 1000, "x" * 300),
        (None, "the upstream gave no reason"),
        ({"code": 13}, "the upstream gave no reason"),
    ],
)
def test_failure_reason_is_short_and_scrubbed(error: object, reason: str) -> None:
    assert failure_reason(error) == reason


# ---------------------------------------------------------------------- refusals and failures


async def test_a_rule_violation_is_the_clients_400(
    provider: AimlapiProvider, fake: FakeAimlapiUpstream
) -> None:
    failure = await refusal(
        lambda: provider.submit_task(
            "video", job("video", model="google/veo-3.1-t2v", prompt="x", duration=7)
        )
    )

    assert failure.error.status == 400
    assert failure.error.message.startswith("Body validation error! duration:")
    assert not failure.retryable
    assert len(fake.tasks) == 0
    assert fake.fidelity_errors == [f"/v2/video/generations: {failure.error.message}"]


async def test_a_model_of_another_family_is_refused(provider: AimlapiProvider) -> None:
    failure = await refusal(
        lambda: provider.submit_task("music", job("music", model="google/veo-3.1-t2v", prompt="x"))
    )

    assert (failure.error.status, failure.retryable) == (400, False)
    assert "is a video model" in failure.error.message


async def test_an_unknown_model_is_404(provider: AimlapiProvider) -> None:
    failure = await refusal(
        lambda: provider.submit_task("video", job("video", model="no/such-video", prompt="x"))
    )

    assert (failure.error.status, failure.error.message, failure.retryable) == (
        404,
        "Model 'no/such-video' not found.",
        False,
    )


@pytest.mark.parametrize(
    ("family", "upstream_id"),
    [
        ("video", "6f1c2f0e-0000-4000-8000-000000000000:google/veo-3.1-t2v"),
        ("music", "6f1c2f0e-0000-4000-8000-000000000000:elevenlabs/eleven_music"),
        ("stt", "6f1c2f0e-0000-4000-8000-000000000000"),
        ("stt", "not/a/uuid"),  # the id goes in the path, quoted
    ],
)
async def test_polling_an_unknown_task_is_404(
    provider: AimlapiProvider, fake: FakeAimlapiUpstream, family: str, upstream_id: str
) -> None:
    failure = await refusal(lambda: provider.poll_task(family, upstream_id))

    assert (failure.error.status, failure.retryable) == (404, False)
    assert failure.error.message.startswith("Generation '")
    assert len(fake.requests) == 1


async def test_a_task_of_another_family_is_not_found(provider: AimlapiProvider) -> None:
    submitted = await provider.submit_task("video", job("video", model="google/veo-3.1-t2v", prompt="x"))

    failure = await refusal(lambda: provider.poll_task("music", submitted.upstream_id))

    assert failure.error.status == 404


async def test_upstream_trouble_on_create_is_retryable(
    provider: AimlapiProvider, fake: FakeAimlapiUpstream
) -> None:
    fake.fail_next = [503, "disconnect"]
    video = job("video", model="google/veo-3.1-t2v", prompt="x")

    unavailable = await refusal(lambda: provider.submit_task("video", video))
    cut = await refusal(lambda: provider.submit_task("video", video))
    submitted = await provider.submit_task("video", video)

    assert (unavailable.error.status, unavailable.error.code, unavailable.retryable) == (
        502,
        "upstream_error",
        True,
    )
    assert (cut.error.status, cut.retryable) == (502, True)
    assert list(fake.tasks) == [submitted.upstream_id]  # only the answered create made a task


async def test_a_failed_poll_does_not_move_the_task_on(
    provider: AimlapiProvider, fake: FakeAimlapiUpstream
) -> None:
    submitted = await provider.submit_task("music", job("music", model="stable-audio", prompt="rain"))
    fake.fail_next = [429]

    limited = await refusal(lambda: provider.poll_task("music", submitted.upstream_id))
    polls = await poll_until_done(provider, "music", submitted.upstream_id)

    assert (limited.error.status, limited.retryable) == (429, True)
    assert [p.status for p in polls] == ["queued", "generating", "completed"]


async def test_a_refused_key_is_the_operators_problem(fake: FakeAimlapiUpstream) -> None:
    backend = AimlapiProvider("svc", fake.base_url, api_key="wrong-key-123", read_timeout_s=2.0)
    await backend.start()
    try:
        failure = await refusal(lambda: backend.poll_task("stt", str(uuid.uuid4())))
    finally:
        await backend.close()

    assert (failure.error.status, failure.error.code, failure.retryable) == (502, "upstream_auth", True)


# ---------------------------------------------------------------------- answers the fake never gives


@pytest.fixture
async def canned() -> AsyncIterator[tuple[AimlapiProvider, list[dict[str, Any]]]]:
    """The adapter pointed at a server that answers each request with the next canned body."""
    answers: list[dict[str, Any]] = []

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    backend = AimlapiProvider("svc", f"http://127.0.0.1:{port}", api_key=KEY, read_timeout_s=2.0)
    await backend.start()
    yield backend, answers
    await backend.close()
    await runner.cleanup()


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "x:veo", "status": "dreaming"},  # Luma's legacy words: not this route's
        {"id": "x:veo", "status": "completed", "video": None},
        {"id": "x:veo", "status": "completed", "video": {"duration": 8}},
    ],
    ids=["unknown status", "no video", "no url"],
)
async def test_an_answer_it_cannot_read_is_an_invalid_upstream(
    canned: tuple[AimlapiProvider, list[dict[str, Any]]], answer: dict[str, Any]
) -> None:
    provider, answers = canned
    answers.append(answer)

    failure = await refusal(lambda: provider.poll_task("video", "x:veo"))

    assert (failure.error.status, failure.error.code, failure.retryable) == (502, "upstream_invalid", True)


async def test_a_create_without_an_id_is_an_invalid_upstream(
    canned: tuple[AimlapiProvider, list[dict[str, Any]]],
) -> None:
    provider, answers = canned
    answers.append({"status": "queued", "meta": {"usage": {"tokens_used": 10}}})

    failure = await refusal(lambda: provider.submit_task("video", job("video", model="veo", prompt="x")))

    assert failure.error.code == "upstream_invalid"


async def test_a_duration_on_the_answer_counts_when_the_video_has_none(
    canned: tuple[AimlapiProvider, list[dict[str, Any]]],
) -> None:
    provider, answers = canned
    video = {"url": "https://cdn.example/out.mp4"}
    answers.append({"id": "x:veo", "status": "completed", "video": video, "duration": 6, "error": None})

    polled = await provider.poll_task("video", "x:veo")

    assert (polled.status, polled.result, polled.used) == ("completed", {"video": video}, Used(seconds=6))
