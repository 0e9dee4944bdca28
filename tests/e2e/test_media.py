"""The media routes end to end: the OpenAI SDK and raw HTTP through the real server to a fake of the
service itself (kind "aimlapi"), with what each call costs in the ledger."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import orjson
import pytest

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.fakes.aimlapi_upstream import PNG, TRANSCRIPT, WAV, FakeAimlapiUpstream, tokens_used
from tests.server import funded_account, serve

MARKUP = 1.5
STARTING = 10_000_000
# Priced by the operator: 0.01 USD an image (20,000 credits), whatever the upstream says.
OPERATOR_PRICED = "flux/schnell"


@dataclass
class Media:
    root: str
    key: str
    db: Database
    account_id: int
    gateway: Gateway
    service: FakeAimlapiUpstream

    def client(self, key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.root + "/v1", api_key=key or self.key, max_retries=0)

    async def spent(self) -> int:
        await self.gateway.book.drain()
        await self.gateway.sync.flush()
        balance = self.db.account(self.account_id).balance
        assert balance == self.db.ledger_sum(self.account_id)
        return STARTING - balance

    async def post(self, path: str, **kwargs) -> tuple[int, str, bytes]:
        headers = {"Authorization": f"Bearer {self.key}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(self.root + path, **kwargs) as response,
        ):
            return response.status, response.content_type, await response.read()


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[Media]:
    async with FakeAimlapiUpstream(api_key="svc-key") as service:
        config = tmp_path / "omnigate.toml"
        config.write_text(
            textwrap.dedent(
                f"""
                data_dir = "{tmp_path / "data"}"
                [engines]
                builtin = false
                [server]
                max_audio_mb = 0.05
                [billing]
                flush_interval_s = 0.05
                [providers.svc]
                kind = "aimlapi"
                base_url = "{service.base_url}"
                api_key = "svc-key"
                markup = {MARKUP}
                [[routes]]
                model = "*"
                provider = "svc"
                [[prices]]
                model = "{OPERATOR_PRICED}"
                per_image = 0.01
                """
            )
        )
        settings = load_settings(config)
        db, account, key = funded_account(settings.database_url, STARTING)
        async with serve(settings) as (gateway, root):
            yield Media(root, key, db, account.id, gateway, service)
        db.close()


async def test_images_cost_what_the_upstream_billed_times_the_markup(media: Media) -> None:
    # fal-style models count `num_images` (their rules have no `n`, which is dropped).
    result = await media.client().images.generate(
        model="flux-pro", prompt="a red cube", extra_body={"num_images": 2}
    )
    assert len(result.data) == 2 and all(image.url for image in result.data)
    charged = result.model_extra["meta"]["usage"]["tokens_used"]
    billed = tokens_used("/v1/images/generations", {"model": "flux-pro", "num_images": 2})
    assert charged == round(billed * MARKUP)
    assert await media.spent() == charged


async def test_an_operator_price_wins_over_the_upstreams_bill(media: Media) -> None:
    result = await media.client().images.generate(
        model=OPERATOR_PRICED, prompt="a red cube", extra_body={"num_images": 2}
    )
    assert result.model_extra["meta"]["usage"]["tokens_used"] == 40_000
    # fal-family models keep fal's fields beside data[].
    assert result.model_extra["images"] and "seed" in result.model_extra
    assert await media.spent() == 40_000


async def test_b64_json_is_honoured(media: Media) -> None:
    result = await media.client().images.generate(
        model="flux-pro", prompt="a red cube", response_format="b64_json"
    )
    assert base64.b64decode(result.data[0].b64_json) == PNG and result.data[0].url is None


async def test_image_edits_take_files_as_openais_sdk_sends_them(media: Media) -> None:
    result = await media.client().images.edit(
        model="openai/gpt-image-1", prompt="make it blue", image=("cube.png", PNG, "image/png")
    )
    assert result.data and media.service.fidelity_errors == []
    sent = media.service.requests[-1]
    assert [f.field for f in sent.files] == ["image"] and sent.files[0].size == len(PNG)


async def test_tts_answers_a_url_or_the_audio_by_family(media: Media) -> None:
    status, kind, raw = await media.post(
        "/v1/tts", json={"model": "openai/tts-1", "text": "hi", "voice": "alloy"}
    )
    assert status == 200 and kind == "application/json"
    answer = orjson.loads(raw)
    assert answer["audio"]["url"] and answer["meta"]["usage"]["tokens_used"] > 0
    status, kind, raw = await media.post("/v1/tts", json={"model": "#g1_aura-asteria-en", "text": "hi"})
    assert (status, kind, raw) == (200, "audio/wav", WAV)


async def test_openai_speech_answers_audio_even_from_a_url(media: Media) -> None:
    speech = await media.client().audio.speech.create(
        model="openai/tts-1", voice="alloy", input="hello there"
    )
    assert speech.content == WAV  # the upstream answered a URL; the gateway fetched it


async def test_transcriptions_in_every_openai_format(media: Media) -> None:
    client = media.client()
    audio = ("speech.wav", WAV, "audio/wav")
    plain = await client.audio.transcriptions.create(model="#g1_whisper-base", file=audio)
    assert plain.text == TRANSCRIPT
    verbose = await client.audio.transcriptions.create(
        model="#g1_whisper-base", file=audio, response_format="verbose_json"
    )
    assert verbose.duration > 0 and verbose.text == TRANSCRIPT
    text = await client.audio.transcriptions.create(
        model="#g1_whisper-base", file=audio, response_format="text"
    )
    assert text.strip() == TRANSCRIPT
    srt = await client.audio.transcriptions.create(
        model="#g1_whisper-base", file=audio, response_format="srt"
    )
    assert srt.startswith("1\n00:00:00,000 --> ")
    vtt = await client.audio.transcriptions.create(
        model="#g1_whisper-base", file=audio, response_format="vtt"
    )
    assert vtt.startswith("WEBVTT")


async def test_legacy_stt_by_url_and_by_file(media: Media) -> None:
    status, _, raw = await media.post(
        "/v1/stt", json={"model": "#g1_nova-2-general", "url": "https://x.test/a.wav"}
    )
    assert status == 200 and TRANSCRIPT.encode() in raw
    assert media.service.requests[-1].body.get("url") == "https://x.test/a.wav"
    form = aiohttp.FormData()
    form.add_field("model", "aai/universal")
    form.add_field("audio", WAV, filename="a.wav", content_type="audio/wav")
    status, _, raw = await media.post("/v1/stt", data=form)
    assert status == 200 and TRANSCRIPT.encode() in raw and media.service.fidelity_errors == []


async def test_audio_over_the_limit_is_a_413_and_costs_nothing(media: Media) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "#g1_whisper-base")
    form.add_field("file", b"\0" * 100_000, filename="long.wav", content_type="audio/wav")
    status, _, raw = await media.post("/v1/audio/transcriptions", data=form)
    assert status == 413 and b"file" in raw
    assert await media.spent() == 0


async def test_ocr_in_both_shapes(media: Media) -> None:
    status, _, raw = await media.post(
        "/v1/ocr",
        json={
            "model": "mistral/mistral-ocr-latest",
            "document": {"type": "document_url", "document_url": "https://x.test/a.pdf"},
        },
    )
    assert status == 200 and b'"pages"' in raw
    # Google's requests name no model.
    status, _, raw = await media.post(
        "/v1/ocr", json={"document": "https://x.test/a.pdf", "mimeType": "application/pdf"}
    )
    assert status == 200, raw
    assert media.service.requests[-1].body["model"] == "google/gc-document-ai"


async def test_a_key_scoped_to_chat_cannot_make_images(media: Media) -> None:
    key, _ = media.db.create_key("team", admin=False, origin="test", scopes=("model:chat",))
    with pytest.raises(openai.PermissionDeniedError, match="model:image"):
        await media.client(key).images.generate(model="flux-pro", prompt="a red cube")


async def test_a_model_of_another_family_is_refused_naming_its_route(media: Media) -> None:
    with pytest.raises(openai.BadRequestError, match="/v1/tts"):
        await media.client().images.generate(model="openai/tts-1", prompt="a red cube")


async def test_vision_goes_to_the_upstream_that_serves_it(media: Media) -> None:
    body = {
        "image": {"source": {"imageUri": "https://x.test/cat.png"}},
        "features": [{"type": "LABEL_DETECTION"}],
    }
    status, _, raw = await media.post("/vision", json=body)
    assert status == 200 and media.service.fidelity_errors == []
    answer = orjson.loads(raw)
    assert answer["responses"] and answer["meta"]["usage"]["tokens_used"] == round(
        tokens_used("/vision", body) * MARKUP
    )
    status, _, raw = await media.post("/vision", json={"image": {}, "features": []})
    assert status == 400 and b"image" in raw


async def test_another_omnigate_is_an_upstream_too(media: Media, tmp_path: Path) -> None:
    """A front gateway whose only provider is this one (kind "aimlapi"): the same routes, and the
    charge it passes on is what this one billed, times the front's markup."""
    config = tmp_path / "front.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "front"}"
            [engines]
            builtin = false
            [providers.inner]
            kind = "aimlapi"
            base_url = "{media.root}"
            api_key = "{media.key}"
            markup = 2.0
            [[routes]]
            model = "*"
            provider = "inner"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, STARTING)
    async with serve(settings) as (_, front):
        client = openai.AsyncOpenAI(base_url=front + "/v1", api_key=key, max_retries=0)
        result = await client.images.generate(model="flux-pro", prompt="a red cube")
        speech = await client.audio.speech.create(model="openai/tts-1", voice="alloy", input="hello")
    db.close()
    inner_charge = round(tokens_used("/v1/images/generations", {"model": "flux-pro"}) * MARKUP)
    assert result.model_extra["meta"]["usage"]["tokens_used"] == inner_charge * 2
    assert result.data[0].url and speech.content == WAV
