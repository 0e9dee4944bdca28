"""The fake upstream's Videos API (Sora), driven by the official OpenAI SDK: the fake speaks the
protocol the SDK speaks."""

from __future__ import annotations

import aiohttp
import openai
import pytest

from .openai_media import FormFile
from .openai_upstream import FakeOpenAIUpstream
from .openai_videos import FAILED_ERROR, HALFWAY, video_bytes

# The SDK marks the Videos API deprecated (Sora shuts down in 2026); OpenAI still serves it.
pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")]

# The fake checks only an image's signature.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
KEY = {"Authorization": "Bearer sk-fake"}


async def post_form(fake: FakeOpenAIUpstream, fields: dict[str, str | bytes]) -> tuple[int, dict]:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, bytes):
            data.add_field(name, value, filename=f"{name}.bin", content_type="application/octet-stream")
        else:
            data.add_field(name, value)
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.base_url + "/videos", data=data, headers=KEY) as response,
    ):
        return response.status, await response.json()


# ------------------------------------------------------------------------ lifecycle


async def test_a_video_is_queued_then_in_progress_then_completed(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    video = await client.videos.create(
        prompt="a fox in the snow", model="sora-2", seconds="8", size="1280x720"
    )
    assert (video.status, video.progress, video.object) == ("queued", 0, "video")
    assert (video.model, video.seconds, video.size, video.prompt) == (
        "sora-2",
        "8",
        "1280x720",
        "a fox in the snow",
    )
    assert video.id.startswith("video_")
    assert video.completed_at is None and video.error is None

    polled = await client.videos.retrieve(video.id)
    assert (polled.status, polled.progress) == ("in_progress", HALFWAY)
    done = await client.videos.retrieve(video.id)
    assert (done.status, done.progress) == ("completed", 100)
    assert done.completed_at is not None and done.expires_at is not None
    assert done.expires_at > done.completed_at
    # A finished video stays as it is.
    assert (await client.videos.retrieve(video.id)).status == "completed"

    content = await client.videos.download_content(video.id)
    assert content.content == video_bytes(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    assert content.content[4:8] == b"ftyp"

    # The SDK sends the create as a form, and asks for the content as binary.
    assert fake.paths == ["/v1/videos"] + [f"/v1/videos/{video.id}"] * 3 + [f"/v1/videos/{video.id}/content"]
    assert fake.requests[0] == {
        "prompt": "a fox in the snow",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert fake.headers[0]["content-type"].startswith("multipart/form-data")
    assert fake.headers[-1]["accept"] == "application/binary"


async def test_defaults_are_openais(client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a fox")
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")


async def test_pro_and_dated_snapshots_make_the_large_sizes(client: openai.AsyncOpenAI) -> None:
    for model in ("sora-2-pro", "sora-2-pro-2025-10-06"):
        video = await client.videos.create(prompt="a fox", model=model, size="1792x1024", seconds="12")
        assert (video.model, video.size, video.seconds) == (model, "1792x1024", "12")


async def test_input_reference_as_a_file(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    await client.videos.create(prompt="it moves", input_reference=("first.png", PNG, "image/png"))
    assert fake.requests[0]["input_reference"] == FormFile("first.png", "image/png", PNG)
    assert fake.videos[next(iter(fake.videos))].input_reference == FormFile("first.png", "image/png", PNG)


async def test_input_reference_must_be_a_file(fake: FakeOpenAIUpstream) -> None:
    status, _ = await post_form(fake, {"prompt": "it moves", "input_reference": "https://example.com/a.png"})
    assert status == 500
    assert len(fake.fidelity_errors) == 1 and "as a file" in fake.fidelity_errors[0]
    fake.fidelity_errors.clear()

    fake.strict = False
    status, body = await post_form(
        fake, {"prompt": "it moves", "input_reference": "https://example.com/a.png"}
    )
    assert (status, body["error"]["param"]) == (400, "input_reference")


async def test_a_failed_video_says_why_and_has_no_content(client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a fox [fail]")
    assert (await client.videos.retrieve(video.id)).status == "in_progress"
    failed = await client.videos.retrieve(video.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (FAILED_ERROR["code"], FAILED_ERROR["message"])
    with pytest.raises(openai.NotFoundError):
        await client.videos.download_content(video.id)


async def test_content_is_a_404_until_the_video_is_completed(client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a fox")
    with pytest.raises(openai.NotFoundError) as caught:
        await client.videos.download_content(video.id)
    assert caught.value.code == "video_not_ready"


async def test_an_unknown_video_is_a_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.videos.retrieve("video_unknown")
    with pytest.raises(openai.NotFoundError):
        await client.videos.download_content("video_unknown")


# ------------------------------------------------------------------------ refusals


async def test_sora_2_refuses_the_pro_sizes(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.create(prompt="a fox", model="sora-2", size="1792x1024")
    assert (caught.value.param, caught.value.code) == ("size", "invalid_value")
    assert "'720x1280' and '1280x720'" in caught.value.message


async def test_a_model_that_is_not_sora_is_refused(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.create(prompt="a fox", model="dall-e-3")
    assert caught.value.param == "model"


async def test_a_reference_that_is_not_an_image_is_refused(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.videos.create(prompt="a fox", input_reference=("a.txt", b"hello", "text/plain"))
    assert (caught.value.param, caught.value.code) == ("input_reference", "invalid_image_format")


async def test_the_prompt_is_required(fake: FakeOpenAIUpstream) -> None:
    status, body = await post_form(fake, {"model": "sora-2"})
    assert status == 400
    assert body["error"]["param"] == "prompt"


async def test_a_create_wants_a_form(fake: FakeOpenAIUpstream) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.base_url + "/videos", json={"prompt": "a fox"}, headers=KEY) as response,
    ):
        assert response.status == 400
        assert "expected multipart/form-data" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "found"),
    [
        # The service's names, not OpenAI's.
        ({"prompt": "a fox", "duration": "8"}, "['duration']"),
        # A number where the SDK sends one of its strings.
        ({"prompt": "a fox", "seconds": "10"}, "seconds='10'"),
        ({"prompt": "a fox", "size": "1920x1080"}, "size='1920x1080'"),
    ],
)
async def test_what_the_sdk_would_not_send_is_a_fidelity_error(
    fake: FakeOpenAIUpstream, fields: dict[str, str], found: str
) -> None:
    status, _ = await post_form(fake, fields)
    assert status == 500
    assert len(fake.fidelity_errors) == 1 and found in fake.fidelity_errors[0]
    fake.fidelity_errors.clear()


async def test_a_lax_fake_refuses_what_openai_refuses(fake: FakeOpenAIUpstream) -> None:
    fake.strict = False
    status, body = await post_form(fake, {"prompt": "a fox", "seconds": "10"})
    assert status == 400
    assert (body["error"]["param"], body["error"]["message"]) == (
        "seconds",
        "Invalid value: '10'. Supported values are: '4', '8', and '12'.",
    )


# ------------------------------------------------------------------------ failures


async def test_failure_knobs_work_for_every_video_request(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    fake.fail_next.extend([500, 429])
    with pytest.raises(openai.InternalServerError):
        await client.videos.create(prompt="a fox")
    with pytest.raises(openai.RateLimitError):
        await client.videos.create(prompt="a fox")
    video = await client.videos.create(prompt="a fox")

    # A failed retrieve does not move the video on.
    fake.fail_next.append(503)
    with pytest.raises(openai.InternalServerError):
        await client.videos.retrieve(video.id)
    assert fake.videos[video.id].status == "queued"
    await client.videos.retrieve(video.id)
    await client.videos.retrieve(video.id)

    fake.fail_next.append("midstream")
    with pytest.raises(openai.APIConnectionError):
        await client.videos.download_content(video.id)
    assert (await client.videos.download_content(video.id)).content == video_bytes(video.id)


async def test_videos_need_the_key(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a fox")
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrong-key-1234", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.videos.create(prompt="a fox")
        with pytest.raises(openai.AuthenticationError):
            await bad.videos.retrieve(video.id)
    assert fake.videos[video.id].status == "queued"


async def test_reset_forgets_the_videos(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    video = await client.videos.create(prompt="a fox")
    fake.reset()
    with pytest.raises(openai.NotFoundError):
        await client.videos.retrieve(video.id)
