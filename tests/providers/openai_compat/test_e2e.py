"""End to end: OpenAI's SDK → the real gateway's media routes → a `kind = "openai"` provider → the
fake OpenAI upstream. What the upstream receives, what the client gets back, what it is charged."""

from __future__ import annotations

import base64
import io
import textwrap
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from omnigate.gateway import Gateway
from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.fakes.openai_media import IMAGE_TOKENS, TRANSCRIPT, TRANSLATION, FormFile
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.server import funded_account, serve

CREDITS = 10_000_000
# List prices, in credits: dall-e-3 $0.04 an image, gpt-image-1 $5 per million input tokens,
# tts-1 $15 per million characters; the operator prices whisper at $0.0001 a second.
DALL_E_3_IMAGE = 80_000
GPT_IMAGE_INPUT_TOKEN = 10
TTS_CHARACTER = 30
WHISPER_SECOND = 200


@dataclass
class Harness:
    root: str
    key: str
    account_id: int
    db: Database
    gateway: Gateway

    def client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.root}/v1", api_key=self.key, max_retries=0)

    async def balance(self) -> int:
        await self.gateway.book.drain()
        await self.gateway.sync.flush()
        return self.db.account(self.account_id).balance


@pytest.fixture
async def harness(fake: FakeOpenAIUpstream, tmp_path: Path) -> AsyncIterator[Harness]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"

            [engines]
            builtin = false

            # The audio a test gives by URL is served on 127.0.0.1.
            [server]
            allow_private_urls = true

            [routing]
            max_attempts = 2
            backoff_base_s = 0.01

            [billing]
            unpriced = "free"
            flush_interval_s = 0.05

            [providers.openai]
            kind = "openai"
            base_url = "{fake.base_url}"
            api_key = "sk-fake"

            # The catalogue's STT models are Deepgram's; OpenAI's models serve them here.
            [[routes]]
            model = "#g1_whisper-base"
            provider = "openai"
            upstream_model = "whisper-1"

            [[routes]]
            model = "#g1_whisper-small"
            provider = "openai"
            upstream_model = "gpt-4o-mini-transcribe"

            [[routes]]
            model = "*"
            provider = "openai"

            [[prices]]
            model = "#g1_whisper-base"
            per_second = 0.0001
            """
        )
    )
    settings = load_settings(config)
    db, account, key = funded_account(settings.database_url, CREDITS)
    try:
        async with serve(settings) as (gateway, root):
            yield Harness(root, key, account.id, db, gateway)
    finally:
        db.close()


def wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(bytes(2 * round(seconds * rate)))
    return out.getvalue()


# ------------------------------------------------------------------------ images


async def test_dall_e_3_answers_the_upstreams_url(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    answer = await harness.client().images.generate(
        model="dall-e-3", prompt="a lighthouse at dawn", size="1792x1024", quality="hd"
    )

    assert fake.requests == [
        {"model": "dall-e-3", "prompt": "a lighthouse at dawn", "size": "1792x1024", "quality": "hd"}
    ]
    (image,) = answer.data or []
    assert image.url is not None and image.url.startswith(fake.base_url)
    assert image.revised_prompt == "revised: a lighthouse at dawn"
    assert (answer.model_extra or {})["meta"] == {"usage": {"tokens_used": DALL_E_3_IMAGE}}
    assert await harness.balance() == CREDITS - DALL_E_3_IMAGE


async def test_gpt_image_is_charged_its_input_tokens(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    answer = await harness.client().images.generate(
        model="openai/gpt-image-1", prompt="two red foxes", response_format="b64_json"
    )

    # GPT image models answer base64 whatever is asked, and refuse the field itself.
    assert fake.requests == [{"model": "openai/gpt-image-1", "prompt": "two red foxes"}]
    (image,) = answer.data or []
    assert base64.b64decode(image.b64_json or "").startswith(b"\x89PNG")
    assert answer.usage is not None and answer.usage.output_tokens == IMAGE_TOKENS
    # The list price has no output tokens: three prompt words, three tokens.
    assert (answer.model_extra or {})["meta"]["usage"]["tokens_used"] == 3 * GPT_IMAGE_INPUT_TOKEN


async def test_image_edit_sends_the_files_upstream(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    answer = await harness.client().images.edit(
        model="openai/gpt-image-1",
        prompt="put a hat on both",
        image=[("a.png", png, "image/png"), ("b.png", png + b"b", "image/png")],
        mask=("mask.png", png + b"m", "image/png"),
        quality="high",
    )

    assert fake.paths == ["/v1/images/edits"]
    assert fake.requests == [
        {
            "model": "openai/gpt-image-1",
            "prompt": "put a hat on both",
            "quality": "high",
            "image[]": [FormFile("a.png", "image/png", png), FormFile("b.png", "image/png", png + b"b")],
            "mask": FormFile("mask.png", "image/png", png + b"m"),
        }
    ]
    assert answer.usage is not None and answer.usage.input_tokens == 5 + 2 * IMAGE_TOKENS
    charged = (answer.model_extra or {})["meta"]["usage"]["tokens_used"]
    assert charged == (5 + 2 * IMAGE_TOKENS) * GPT_IMAGE_INPUT_TOKEN


# ------------------------------------------------------------------------ speech


async def test_openai_speech_answers_the_upstreams_audio(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    text = "The gateway speaks."
    speech = await harness.client().audio.speech.create(
        model="openai/tts-1", voice="nova", input=text, response_format="wav", instructions="slowly"
    )

    assert fake.requests == [
        {
            "model": "openai/tts-1",
            "input": text,
            "voice": "nova",
            "response_format": "wav",
            "instructions": "slowly",
        }
    ]
    assert speech.response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(speech.content)) as audio:
        assert audio.getframerate() == 24_000 and audio.getnframes() > 0
    assert speech.response.headers["x-credits-used"] == str(len(text) * TTS_CHARACTER)
    assert await harness.balance() == CREDITS - len(text) * TTS_CHARACTER


async def test_service_tts_answers_a_url_of_the_audio(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    headers = {"Authorization": f"Bearer {harness.key}"}
    body = {"model": "openai/tts-1", "text": "Hello there.", "voice": "alloy"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(f"{harness.root}/v1/tts", json=body) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        async with session.get(answer["audio"]["url"]) as audio:
            assert audio.status == 200
            assert audio.content_type == "audio/mpeg"
            assert (await audio.read()).startswith(b"\xff\xfb")
    assert fake.requests == [{"model": "openai/tts-1", "input": "Hello there.", "voice": "alloy"}]
    assert answer["meta"] == {"usage": {"tokens_used": len("Hello there.") * TTS_CHARACTER}}


# ------------------------------------------------------------------ transcription


async def test_whisper_transcription_is_charged_by_the_second(
    harness: Harness, fake: FakeOpenAIUpstream
) -> None:
    audio = wav(2.5)
    response = await harness.client().audio.transcriptions.with_raw_response.create(
        model="#g1_whisper-base", file=("call.wav", audio, "audio/wav"), response_format="verbose_json"
    )
    answer = response.parse()

    assert fake.requests == [
        {
            "model": "whisper-1",
            "response_format": "verbose_json",
            "file": FormFile("call.wav", "audio/wav", audio),
        }
    ]
    assert (answer.text, answer.duration) == (TRANSCRIPT, 2.5)
    charged = round(2.5 * WHISPER_SECOND)
    assert response.headers["x-credits-used"] == str(charged)
    assert await harness.balance() == CREDITS - charged


async def test_transcribe_models_answer_json(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    answer = await harness.client().audio.transcriptions.create(
        model="#g1_whisper-small", file=("call.wav", wav(1.0), "audio/wav")
    )
    assert answer.text == TRANSCRIPT
    assert fake.requests[-1]["model"] == "gpt-4o-mini-transcribe"
    assert fake.requests[-1]["response_format"] == "json"


# The SDK marks translations deprecated; OpenAI still serves them, and the gateway relays them.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
async def test_translations_go_to_the_upstreams_translations(
    harness: Harness, fake: FakeOpenAIUpstream
) -> None:
    answer = await harness.client().audio.translations.create(
        model="#g1_whisper-base", file=("call.wav", wav(1.0), "audio/wav")
    )
    assert answer.text == TRANSLATION
    assert fake.paths == ["/v1/audio/translations"]


async def test_service_stt_answers_deepgrams_shape(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "#g1_whisper-base")
    form.add_field("punctuate", "true")
    form.add_field("audio", wav(4.0), filename="call.wav", content_type="audio/wav")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as session:
        async with session.post(f"{harness.root}/v1/stt", data=form) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()

    assert answer == {
        "metadata": {"duration": 4.0},
        "results": {"channels": [{"alternatives": [{"transcript": TRANSCRIPT}]}]},
        "meta": {"usage": {"tokens_used": 4 * WHISPER_SECOND}},
    }
    assert fake.requests[-1]["model"] == "whisper-1"


async def test_service_stt_fetches_a_url_for_the_upstream(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    audio = wav(1.5)

    async def recording(request: web.Request) -> web.Response:
        return web.Response(body=audio, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/call.wav", recording)
    server = TestServer(app)
    await server.start_server()
    body = {"model": "#g1_whisper-base", "url": str(server.make_url("/call.wav"))}
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as session:
            async with session.post(f"{harness.root}/v1/stt", json=body) as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
    finally:
        await server.close()

    # OpenAI takes only bytes: the gateway fetched them and sent them as the file.
    (sent,) = fake.requests
    assert sent["file"].data == audio and "url" not in sent
    assert answer["metadata"] == {"duration": 1.5}
    assert answer["results"]["channels"][0]["alternatives"][0]["transcript"] == TRANSCRIPT


# ------------------------------------------------------------------------ failures


async def test_a_failed_attempt_is_retried(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    fake.fail_next.append(503)
    speech = await harness.client().audio.speech.create(model="openai/tts-1", voice="alloy", input="hi")
    assert speech.content.startswith(b"\xff\xfb")
    assert fake.paths == ["/v1/audio/speech"] * 2


async def test_a_refused_request_reaches_the_client(harness: Harness, fake: FakeOpenAIUpstream) -> None:
    fake.fail_next.append(400)
    with pytest.raises(openai.BadRequestError) as caught:
        await harness.client().images.generate(model="dall-e-3", prompt="a fox")
    assert "fake upstream rejected the request" in caught.value.message
    assert len(fake.requests) == 1  # not retried: another attempt would be refused alike
    assert await harness.balance() == CREDITS
