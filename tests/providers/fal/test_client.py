"""The fal adapter against the fake fal upstream: the wire, the answers, and the failures."""

from __future__ import annotations

import struct

import aiohttp
import pytest

from omnigate.billing.pricing import Used
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.fal.client import FalProvider
from omnigate.providers.media import MediaJob
from tests.providers.fal.fake_fal import KEY, FakeFal


def job(**body: object) -> MediaJob:
    return MediaJob(family="image", body=body)


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.read()


async def failure(provider: FalProvider, **body: object) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.run_media(job(**body))
    return caught.value


async def test_text_to_image(provider: FalProvider, fake: FakeFal) -> None:
    result = await provider.run_media(
        job(model="fal-ai/flux/schnell", prompt="a red fox", image_size="square", num_images=2, seed=5)
    )
    sent = fake.requests[-1]
    assert sent.app == "fal-ai/flux/schnell"
    assert sent.body == {"prompt": "a red fox", "image_size": "square", "num_images": 2, "seed": 5}
    assert sent.authorization == f"Key {KEY}"
    body = result.body
    assert body is not None and result.used == Used(images=2)
    assert [d["b64_json"] for d in body["data"]] == [None, None]
    assert [(d["width"], d["height"], d["content_type"]) for d in body["data"]] == [
        (512, 512, "image/png")
    ] * 2
    assert [d["url"] for d in body["data"]] == [i["url"] for i in body["images"]]
    assert (
        body["seed"] == 5 and body["has_nsfw_concepts"] == [False, False] and "inference" in body["timings"]
    )
    # The URLs are real images of the size reported.
    png = await fetch(body["data"][0]["url"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and struct.unpack(">II", png[16:24]) == (512, 512)


async def test_image_to_image(provider: FalProvider, fake: FakeFal) -> None:
    source = f"{fake.base_url}/files/source.png"
    result = await provider.run_media(
        job(model="fal-ai/flux/dev/image-to-image", prompt="as a watercolour", image_url=source, strength=0.8)
    )
    assert fake.requests[-1].app == "fal-ai/flux/dev/image-to-image"
    assert fake.requests[-1].body == {"prompt": "as a watercolour", "image_url": source, "strength": 0.8}
    assert result.body is not None and len(result.body["data"]) == 1 and result.used.images == 1


async def test_kontext_merges_several_images_through_its_multi_app(
    provider: FalProvider, fake: FakeFal
) -> None:
    urls = ["https://x.test/a.png", "https://x.test/b.png"]
    result = await provider.run_media(
        job(model="fal-ai/flux-pro/kontext/max", prompt="merge", image_url=urls)
    )
    assert fake.requests[-1].app == "fal-ai/flux-pro/kontext/max/multi"
    assert fake.requests[-1].body == {"prompt": "merge", "image_urls": urls}
    assert result.used.images == 1


async def test_seededit_answers_one_image(provider: FalProvider, fake: FakeFal) -> None:
    result = await provider.run_media(
        job(
            model="fal-ai/bytedance/seededit/v3/edit-image",
            prompt="make it night",
            image="https://x.test/a.png",
        )
    )
    assert fake.requests[-1].body == {"prompt": "make it night", "image_url": "https://x.test/a.png"}
    assert result.body is not None and result.body["data"][0]["url"].endswith(".png")
    assert result.used == Used(images=1)


async def test_triposr_answers_a_mesh(provider: FalProvider, fake: FakeFal) -> None:
    result = await provider.run_media(
        job(
            model="fal-ai/triposr",
            image_url="https://x.test/chair.png",
            mc_resolution=256,
            output_format="glb",
        )
    )
    assert fake.requests[-1].app == "fal-ai/triposr"
    body = result.body
    assert body is not None and "data" not in body
    assert body["model_mesh"]["file_name"] == "model.glb" and body["remeshing_dir"] is None
    assert result.used == Used(requests=1) and result.used.images == 0
    mesh = await fetch(body["model_mesh"]["url"])
    assert mesh[:4] == b"glTF" and len(mesh) == body["model_mesh"]["file_size"]


async def test_an_input_fal_refuses_names_the_field(provider: FalProvider) -> None:
    failed = await failure(provider, model="fal-ai/flux/dev/image-to-image", prompt="p")
    assert not failed.retryable
    assert (failed.error.status, failed.error.param) == (422, "image_url")
    assert failed.error.message == "image_url: Field required"


async def test_an_unknown_app_is_refused(provider: FalProvider) -> None:
    failed = await failure(provider, model="fal-ai/nope", prompt="p")
    assert failed.error.status == 404 and not failed.retryable


async def test_refused_credentials_are_the_gateways_problem_and_stay_unquoted(fake: FakeFal) -> None:
    wrong = "fal-wrong-key-0a1b2c3d"
    backend = FalProvider("fal", fake.base_url, api_key=wrong)
    await backend.start()
    try:
        failed = await failure(backend, model="fal-ai/flux/schnell", prompt="p")
    finally:
        await backend.close()
    assert fake.requests[-1].authorization == f"Key {wrong}"
    assert (failed.error.status, failed.error.code, failed.retryable) == (502, "upstream_auth", True)
    assert wrong not in failed.error.message and "credentials Key" not in failed.error.message


async def test_a_refused_request_keeps_fals_words_without_secrets(
    provider: FalProvider, fake: FakeFal
) -> None:
    fake.answer_next(
        400, {"detail": f"Image could not be fetched from https://files.internal.test/x.png with key {KEY}"}
    )
    failed = await failure(provider, model="fal-ai/flux/schnell", prompt="p")
    assert failed.error.status == 400 and failed.error.message.startswith("Image could not be fetched from")
    assert KEY not in failed.error.message and "files.internal.test" not in failed.error.message


async def test_rate_limits_pass_on_the_wait(provider: FalProvider, fake: FakeFal) -> None:
    fake.answer_next(429, {"detail": "Too many requests for user fal-user-1234"}, {"Retry-After": "7"})
    failed = await failure(provider, model="fal-ai/flux/schnell", prompt="p")
    assert (failed.error.status, failed.retryable, failed.retry_after) == (429, True, 7.0)
    assert failed.error.headers == {"Retry-After": "7"} and "fal-user" not in failed.error.message


async def test_server_errors_say_what_kind_only(provider: FalProvider, fake: FakeFal) -> None:
    fake.answer_next(503, {"detail": f"runner gpu-17.fal.internal:8080 down ({KEY})"})
    failed = await failure(provider, model="fal-ai/flux/schnell", prompt="p")
    assert (failed.error.status, failed.error.code, failed.retryable) == (502, "upstream_error", True)
    assert failed.error.message == "Bad Gateway: provider 'fal' is unavailable (503)."


async def test_an_answer_without_images_is_invalid(provider: FalProvider, fake: FakeFal) -> None:
    fake.answer_next(200, {"status": "IN_QUEUE"})
    failed = await failure(provider, model="fal-ai/flux/schnell", prompt="p")
    assert (failed.error.status, failed.error.code) == (502, "upstream_invalid")


async def test_a_stalled_upstream_times_out(fake: FakeFal) -> None:
    fake.hang = True
    backend = FalProvider("fal", fake.base_url, api_key=KEY, read_timeout_s=0.2)
    await backend.start()
    try:
        failed = await failure(backend, model="fal-ai/flux/schnell", prompt="p")
    finally:
        await backend.close()
    assert (failed.error.status, failed.error.code, failed.retryable) == (504, "upstream_timeout", True)


async def test_chat_is_refused_clearly(provider: FalProvider) -> None:
    body = {"model": "fal-ai/flux/schnell", "messages": [{"role": "user", "content": "hi"}]}
    for call in (provider.complete, provider.open_stream):
        with pytest.raises(UpstreamFailure) as caught:
            await call(body, account_id=1)
        assert caught.value.error.code == "model_not_configured" and caught.value.retryable
        assert "serves no chat (only image)" in caught.value.error.message
