"""OpenAICompatProvider's video tasks against OpenAI's Videos API (the fake's, which the SDK itself
drives): the service's fields as OpenAI's, a video submitted and polled to its bytes, failures."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from omnigate.billing.pricing import Used
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.openai_compat.client import OpenAICompatProvider
from omnigate.providers.openai_compat.videos import (
    create_fields,
    seconds_of,
    upstream_model,
    video_seconds,
    video_size,
)
from omnigate.providers.tasks import Polled, Submitted
from tests.fakes.openai_media import FormFile
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.openai_videos import FAILED_ERROR, video_bytes

# The fake checks only an image's signature.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)


def job(**body: object) -> MediaJob:
    return MediaJob("video", {"model": "sora-2", "prompt": "a fox in the snow", **body})


async def poll_until_done(provider: OpenAICompatProvider, upstream_id: str) -> list[Polled]:
    """Every poll's answer up to the first that is finished (the fake moves a step per poll)."""
    polls = [await provider.poll_task("video", upstream_id)]
    while polls[-1].status in ("queued", "generating"):
        assert len(polls) < 5, polls
        polls.append(await provider.poll_task("video", upstream_id))
    return polls


# ------------------------------------------------------------------- translation


def test_runs_video_tasks() -> None:
    assert OpenAICompatProvider.task_families == {"video"}


@pytest.mark.parametrize(
    ("model", "upstream"),
    [
        ("openai/sora-2-t2v", "sora-2"),
        ("openai/sora-2-i2v", "sora-2"),
        ("openai/sora-2-pro-t2v", "sora-2-pro"),
        ("openai/sora-2-pro-i2v", "sora-2-pro"),
        ("sora-2-t2v", "sora-2"),
        ("sora-2", "sora-2"),
        ("sora-2-pro", "sora-2-pro"),
        ("sora-2-pro-2025-10-06", "sora-2-pro-2025-10-06"),
    ],
)
def test_catalogue_ids_become_openais_model_names(model: str, upstream: str) -> None:
    assert upstream_model(model) == upstream


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "size"),
    [
        (None, None, "1280x720"),  # the service's default is landscape, OpenAI's portrait
        ("16:9", "720p", "1280x720"),
        ("9:16", "720p", "720x1280"),
        ("9:16", None, "720x1280"),
        (None, "720p", "1280x720"),
        ("16:9", "1080p", "1792x1024"),
        ("9:16", "1080P", "1024x1792"),
    ],
)
def test_aspect_ratio_and_resolution_become_a_size(
    aspect_ratio: str | None, resolution: str | None, size: str
) -> None:
    assert video_size(aspect_ratio, resolution) == size


@pytest.mark.parametrize(
    ("aspect_ratio", "resolution", "param"),
    [("1:1", "720p", "aspect_ratio"), ("4:3", None, "aspect_ratio"), ("16:9", "480p", "resolution")],
)
def test_sizes_openai_does_not_make_are_refused(
    aspect_ratio: str, resolution: str | None, param: str
) -> None:
    with pytest.raises(ApiError) as caught:
        video_size(aspect_ratio, resolution)
    assert (caught.value.status, caught.value.param) == (400, param)


@pytest.mark.parametrize(("duration", "seconds"), [(4, "4"), (8.0, "8"), ("12", "12"), (12, "12")])
def test_duration_becomes_seconds_as_a_string(duration: object, seconds: str) -> None:
    assert video_seconds(duration) == seconds


@pytest.mark.parametrize("duration", [True, None, [8], {"s": 8}])
def test_a_duration_that_is_not_a_number_is_refused(duration: object) -> None:
    with pytest.raises(ApiError) as caught:
        video_seconds(duration)
    assert (caught.value.status, caught.value.param) == (400, "duration")


def test_create_fields_are_openais_and_leave_the_rest_out() -> None:
    body = {
        "model": "openai/sora-2-pro-i2v",
        "prompt": "a fox",
        "duration": 12,
        "aspect_ratio": "9:16",
        "resolution": "720p",
        "image_url": "https://example.com/a.png",  # sent as a file, not a field
        "seed": 7,  # no OpenAI equivalent
    }
    assert create_fields(body) == {
        "model": "sora-2-pro",
        "prompt": "a fox",
        "seconds": "12",
        "size": "720x1280",
    }


def test_without_a_duration_openai_picks_its_default() -> None:
    assert create_fields({"model": "sora-2", "prompt": "a fox"}) == {
        "model": "sora-2",
        "prompt": "a fox",
        "size": "1280x720",
    }


@pytest.mark.parametrize(
    ("video", "seconds"),
    [
        ({"seconds": "8"}, 8.0),
        ({"seconds": "12"}, 12.0),
        ({"seconds": 4}, 4.0),
        ({}, None),
        ({"seconds": "x"}, None),
        ({"seconds": "inf"}, None),
        ({"seconds": "-4"}, None),
    ],
)
def test_seconds_of_a_video(video: dict, seconds: float | None) -> None:
    assert seconds_of(video) == seconds


# ------------------------------------------------------------- through the fake


async def test_text_to_video_runs_to_its_bytes(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    submitted = await provider.submit_task(
        "video", job(model="openai/sora-2-t2v", duration=8, aspect_ratio="16:9", resolution="720p")
    )

    assert submitted == Submitted(upstream_id=submitted.upstream_id, status="queued")
    assert submitted.upstream_id in fake.videos
    # What the SDK sends: a multipart form, `seconds` as a string, the size OpenAI's.
    assert fake.paths == ["/v1/videos"]
    assert fake.requests == [
        {"model": "sora-2", "prompt": "a fox in the snow", "seconds": "8", "size": "1280x720"}
    ]
    assert fake.headers[0]["content-type"].startswith("multipart/form-data")
    assert fake.headers[0]["authorization"] == "Bearer sk-fake"

    polls = await poll_until_done(provider, submitted.upstream_id)

    assert [p.status for p in polls] == ["generating", "completed"]
    done = polls[-1]
    assert done.content == video_bytes(submitted.upstream_id)
    assert done.content_type == "video/mp4"
    # The gateway stores the bytes and fills in its own URL.
    assert done.result == {"video": {"duration": 8}}
    assert done.used == Used(seconds=8.0)
    assert done.error is None
    video_path = f"/v1/videos/{submitted.upstream_id}"
    assert fake.paths[1:] == [video_path, video_path, video_path + "/content"]
    assert fake.headers[-1]["accept"] == "application/binary"
    assert fake.headers[-1]["authorization"] == "Bearer sk-fake"


async def test_image_to_video_sends_the_fetched_image(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> Upload:
        fetched.append(url)
        return Upload("image_url", "first.png", "image/png", PNG)

    url = "https://example.com/first.png"
    body = {
        "model": "sora-2-pro",
        "prompt": "it starts to snow",
        "image_url": url,
        "duration": 4,
        "aspect_ratio": "9:16",
    }
    submitted = await provider.submit_task("video", MediaJob("video", body, fetch=fetch))

    assert fetched == [url]
    assert fake.requests == [
        {
            "model": "sora-2-pro",
            "prompt": "it starts to snow",
            "seconds": "4",
            "size": "720x1280",
            "input_reference": FormFile("first.png", "image/png", PNG),
        }
    ]
    done = (await poll_until_done(provider, submitted.upstream_id))[-1]
    assert done.status == "completed"
    assert done.result == {"video": {"duration": 4}}
    assert done.used == Used(seconds=4.0)


async def test_an_image_given_as_a_data_url_is_decoded_not_fetched(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    async def fetch(url: str) -> Upload:
        raise AssertionError("a data URL is not fetched")

    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    await provider.submit_task("video", MediaJob("video", job(image_url=data_url).body, fetch=fetch))

    assert fake.requests[0]["input_reference"] == FormFile("image.png", "image/png", PNG)


async def test_a_data_url_that_is_not_base64_is_refused(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(ApiError) as caught:
        await provider.submit_task("video", job(image_url="data:image/png;base64,not base64!"))
    assert (caught.value.status, caught.value.param) == (400, "image_url")
    assert fake.requests == []


async def test_a_failed_video_reports_openais_message(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    submitted = await provider.submit_task("video", job(prompt="a fox [fail]"))
    polls = await poll_until_done(provider, submitted.upstream_id)

    assert [p.status for p in polls] == ["generating", "error"]
    assert polls[-1].error == FAILED_ERROR["message"]
    assert polls[-1].content is None and polls[-1].result is None
    assert polls[-1].used == Used()
    # Nothing to download.
    assert not any(path.endswith("/content") for path in fake.paths)


async def test_sora_2_at_1080p_is_refused_by_openai_and_the_client_is_told(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task("video", job(resolution="1080p"))

    assert fake.requests[0]["size"] == "1792x1024"
    error = caught.value.error
    assert (error.status, error.param, error.code) == (400, "size", "invalid_value")
    assert "Supported values are: '720x1280' and '1280x720'" in error.message
    # The client's request is at fault: another deployment would refuse it too.
    assert not caught.value.retryable
    assert fake.videos == {}


async def test_sizes_openai_does_not_make_are_refused_before_any_request(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(ApiError) as caught:
        await provider.submit_task("video", job(aspect_ratio="1:1"))
    assert (caught.value.status, caught.value.param) == (400, "aspect_ratio")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "client_status", "code", "retryable"),
    [
        (400, 400, "invalid_request", False),
        (401, 502, "upstream_auth", True),
        (429, 429, "rate_limit_exceeded", True),
        (503, 502, "upstream_error", True),
    ],
)
async def test_create_errors_map_as_for_chat(
    provider: OpenAICompatProvider,
    fake: FakeOpenAIUpstream,
    status: int,
    client_status: int,
    code: str,
    retryable: bool,
) -> None:
    fake.fail_next.append(status)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task("video", job())
    assert (caught.value.error.status, caught.value.error.code) == (client_status, code)
    assert caught.value.retryable is retryable
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (401, True)])
async def test_poll_errors_map_as_for_chat_and_leave_the_video_as_it_was(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream, status: int, retryable: bool
) -> None:
    submitted = await provider.submit_task("video", job())
    fake.fail_next.append(status)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", submitted.upstream_id)
    assert caught.value.retryable is retryable
    # The next poll picks up where it was.
    assert [p.status for p in await poll_until_done(provider, submitted.upstream_id)] == [
        "generating",
        "completed",
    ]


async def test_polling_a_video_openai_does_not_know_is_a_404(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", "video_gone")
    assert caught.value.error.status == 404
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("action", "code"), [("midstream", "upstream_unreachable"), ("hang", "upstream_timeout")]
)
async def test_a_download_that_breaks_fails_retryably(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream, action: str, code: str
) -> None:
    submitted = await provider.submit_task("video", job())
    assert (await provider.poll_task("video", submitted.upstream_id)).status == "generating"
    fake.hang_seconds = 5.0  # past the provider's 1 s read timeout
    # The retrieve that completes the video answers; its download breaks.
    fake.fail_next.extend([None, action])  # type: ignore[list-item]
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", submitted.upstream_id)
    assert caught.value.error.code == code
    assert caught.value.retryable
    # The video is still there for the next poll.
    done = await provider.poll_task("video", submitted.upstream_id)
    assert done.content == video_bytes(submitted.upstream_id)


async def test_an_id_that_would_change_the_path_is_not_polled(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.poll_task("video", "../files")
    assert caught.value.error.code == "upstream_invalid"
    assert not caught.value.retryable
    assert fake.paths == []


async def test_other_task_families_are_not_run(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.submit_task("music", MediaJob("music", {"model": "x", "prompt": "a song"}))
    assert caught.value.error.code == "model_not_configured"
    with pytest.raises(UpstreamFailure):
        await provider.poll_task("stt", "abc")
    assert fake.requests == []


# -------------------------------------------------------- the SDK, side by side


@pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
async def test_the_sdk_sees_the_video_the_adapter_made(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    """The fake speaks the protocol the official SDK speaks, and the adapter's video is the one the
    SDK reads: same model, size, seconds, bytes."""
    submitted = await provider.submit_task("video", job(model="sora-2-pro", duration=12, aspect_ratio="9:16"))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-fake", max_retries=0) as sdk:
        video = await sdk.videos.retrieve(submitted.upstream_id)
        assert (video.model, video.seconds, video.size, video.status) == (
            "sora-2-pro",
            "12",
            "720x1280",
            "in_progress",
        )
        done = await provider.poll_task("video", submitted.upstream_id)
        assert done.status == "completed"
        content = await sdk.videos.download_content(submitted.upstream_id)
    assert content.content == done.content
    assert done.used == Used(seconds=12.0)


# ------------------------------------------------------------ odd upstreams


@asynccontextmanager
async def upstream_answering(
    video: dict, content: Callable[[], web.Response] | None = None
) -> AsyncIterator[OpenAICompatProvider]:
    """The adapter against an upstream whose every video is `video` (its content `content()`)."""

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(video)

    async def retrieve(request: web.Request) -> web.Response:
        return web.json_response(video)

    async def download(request: web.Request) -> web.Response:
        return content() if content else web.Response(status=404)

    app = web.Application()
    app.router.add_post("/v1/videos", create)
    app.router.add_get("/v1/videos/{id}", retrieve)
    app.router.add_get("/v1/videos/{id}/content", download)
    server = TestServer(app)
    await server.start_server()
    provider = OpenAICompatProvider("odd", str(server.make_url("/v1")), api_key="sk-odd")
    await provider.start()
    try:
        yield provider
    finally:
        await provider.close()
        await server.close()


async def test_a_failure_message_is_scrubbed_of_what_it_reveals() -> None:
    secret = "sk-proj-Abc123Def456Ghi789"
    video = {
        "id": "video_1",
        "status": "failed",
        "error": {
            "code": "internal_error",
            "message": f"Upload to https://storage.internal/bucket?key={secret} failed for key {secret}.",
        },
    }
    async with upstream_answering(video) as provider:
        polled = await provider.poll_task("video", "video_1")
    assert polled.status == "error"
    assert polled.error is not None
    assert secret not in polled.error and "storage.internal" not in polled.error
    assert polled.error.startswith("Upload to [url] failed")


async def test_a_failure_without_a_message_still_says_it_failed() -> None:
    async with upstream_answering({"id": "video_1", "status": "failed", "error": None}) as provider:
        polled = await provider.poll_task("video", "video_1")
    assert polled == Polled(status="error", error="The video generation failed.")


async def test_content_labelled_otherwise_is_taken_for_mp4() -> None:
    video = {"id": "video_1", "status": "completed", "seconds": "8"}

    def octets() -> web.Response:
        return web.Response(body=b"....ftypmp42", content_type="application/octet-stream")

    async with upstream_answering(video, octets) as provider:
        polled = await provider.poll_task("video", "video_1")
    assert (polled.content, polled.content_type) == (b"....ftypmp42", "video/mp4")


@pytest.mark.parametrize(
    ("video", "content"),
    [
        ({"id": "video_1", "status": "cancelled"}, None),  # a status OpenAI does not have
        ({"id": "video_1", "status": "completed", "seconds": "8"}, lambda: web.json_response({"url": "x"})),
        (
            {"id": "video_1", "status": "completed", "seconds": "8"},
            lambda: web.Response(body=b"", content_type="video/mp4"),
        ),
    ],
    ids=["status", "json-content", "empty-content"],
)
async def test_odd_answers_are_invalid(video: dict, content: Callable[[], web.Response] | None) -> None:
    async with upstream_answering(video, content) as provider:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.poll_task("video", "video_1")
    assert caught.value.error.code == "upstream_invalid"
    assert caught.value.retryable


@pytest.mark.parametrize("created", [{"status": "queued"}, {"id": "../admin", "status": "queued"}, [1]])
async def test_a_create_without_a_usable_id_is_invalid(created: object) -> None:
    async with upstream_answering(created) as provider:  # type: ignore[arg-type]
        with pytest.raises(UpstreamFailure) as caught:
            await provider.submit_task("video", job())
    assert caught.value.error.code == "upstream_invalid"
