"""The fake upstream's media endpoints, driven by the official OpenAI SDK."""

from __future__ import annotations

import base64
import io
import math
import struct
import wave
import zlib
from typing import Literal

import aiohttp
import openai
import pytest

from .openai_media import (
    AUDIO_TOKENS_PER_SECOND,
    CONTENT_TYPES,
    IMAGE_SIDE,
    IMAGE_TOKENS,
    SPEECH_SECONDS_PER_CHAR,
    TRANSCRIPT,
    TRANSLATION,
    FormFile,
)
from .openai_upstream import FakeOpenAIUpstream

pytestmark = pytest.mark.asyncio


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the first pixel of an 8-bit RGB PNG (checking its chunk CRCs)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + size]
        assert struct.unpack(">I", data[at + 8 + size : at + 12 + size])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        at += 12 + size
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == height * (1 + 3 * width)
    return width, height, rows[1:4]


def wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(bytes(2 * round(seconds * rate)))
    return out.getvalue()


# ------------------------------------------------------------------------ images


async def test_dall_e_answers_urls_the_fake_serves(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    answer = await client.images.generate(model="dall-e-3", prompt="a red fox", size="1024x1024")

    (image,) = answer.data or []
    assert image.revised_prompt == "revised: a red fox"
    assert image.b64_json is None and image.url is not None
    assert answer.usage is None
    async with aiohttp.ClientSession() as session, session.get(image.url) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        assert png_pixels(await response.read())[:2] == (IMAGE_SIDE, IMAGE_SIDE)


async def test_b64_json_answers_n_distinct_images(client: openai.AsyncOpenAI) -> None:
    answer = await client.images.generate(model="dall-e-2", prompt="a fox", n=3, response_format="b64_json")

    images = [base64.b64decode(item.b64_json or "") for item in answer.data or []]
    assert len(images) == 3
    assert len({png_pixels(image)[2] for image in images}) == 3
    assert all(item.url is None and item.revised_prompt is None for item in answer.data or [])


async def test_dall_e_3_makes_one_image_at_a_time(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.generate(model="dall-e-3", prompt="a fox", n=2)
    assert caught.value.param == "n"


async def test_gpt_image_answers_b64_json_and_usage(client: openai.AsyncOpenAI) -> None:
    answer = await client.images.generate(model="gpt-image-1", prompt="two red foxes", n=2, quality="high")

    assert [item.url for item in answer.data or []] == [None, None]
    assert all(png_pixels(base64.b64decode(item.b64_json or "")) for item in answer.data or [])
    assert (answer.quality, answer.size, answer.output_format, answer.background) == (
        "high",
        "1024x1024",
        "png",
        "opaque",
    )
    assert answer.usage is not None
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (3, 2 * IMAGE_TOKENS)
    assert answer.usage.total_tokens == 3 + 2 * IMAGE_TOKENS


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
async def test_gpt_image_refuses_response_format(
    client: openai.AsyncOpenAI, response_format: Literal["url", "b64_json"]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.images.generate(model="gpt-image-1", prompt="a fox", response_format=response_format)
    assert (caught.value.code, caught.value.param) == ("unknown_parameter", "response_format")


async def test_edit_takes_several_images_and_a_mask(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    generated = await client.images.generate(model="gpt-image-1", prompt="x")
    png = base64.b64decode((generated.data or [])[0].b64_json or "")
    answer = await client.images.edit(
        model="gpt-image-1",
        prompt="put them together",
        image=[("a.png", png, "image/png"), ("b.png", png, "image/png")],
        mask=("mask.png", png, "image/png"),
    )

    sent = fake.requests[-1]
    assert sent["image[]"] == [FormFile("a.png", "image/png", png), FormFile("b.png", "image/png", png)]
    assert sent["mask"] == FormFile("mask.png", "image/png", png)
    assert fake.paths[-1] == "/v1/images/edits"
    assert answer.usage is not None
    assert answer.usage.input_tokens_details.image_tokens == 2 * IMAGE_TOKENS


async def test_edit_with_one_image_answers_a_url(
    fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(8)
    answer = await client.images.edit(model="dall-e-2", prompt="a hat", image=("a.png", png, "image/png"))

    assert fake.requests[-1]["image"] == FormFile("a.png", "image/png", png)
    assert (answer.data or [])[0].url is not None


@pytest.mark.parametrize(
    ("form", "param", "code"),
    [
        ({"model": "dall-e-2", "prompt": "a hat"}, "image", None),
        ({"model": "dall-e-2", "prompt": "a hat", "image": b"GIF89a"}, "image", "invalid_image_format"),
        (
            {"model": "dall-e-2", "prompt": "a hat", "image": b"\x89PNG", "mask": b"\xff\xd8\xff"},
            "mask",
            "invalid_image_format",
        ),
    ],
)
async def test_edit_refuses_missing_or_foreign_images(
    fake: FakeOpenAIUpstream, form: dict[str, str | bytes], param: str, code: str | None
) -> None:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in form.items():
        if isinstance(value, bytes):
            data.add_field(name, value, filename=f"{name}.bin", content_type="application/octet-stream")
        else:
            data.add_field(name, value)
    headers = {"Authorization": "Bearer sk-fake"}
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.base_url + "/images/edits", data=data, headers=headers) as response:
            assert response.status == 400
            error = (await response.json())["error"]
    assert (error["param"], error["code"]) == (param, code)


async def test_form_fields_the_sdk_does_not_know_are_fidelity_errors(fake: FakeOpenAIUpstream) -> None:
    data = aiohttp.FormData(default_to_multipart=True)
    data.add_field("model", "dall-e-2")
    data.add_field("prompt", "a hat")
    data.add_field("text", "a hat")
    data.add_field("image", b"\x89PNG", filename="a.png", content_type="image/png")
    async with aiohttp.ClientSession() as session:
        url, headers = fake.base_url + "/images/edits", {"Authorization": "Bearer sk-fake"}
        async with session.post(url, data=data, headers=headers) as response:
            assert response.status == 500
    assert len(fake.fidelity_errors) == 1 and "'text'" in fake.fidelity_errors[0]
    fake.fidelity_errors.clear()


# ------------------------------------------------------------------------ speech


async def test_speech_wav_is_a_tone_as_long_as_the_input(client: openai.AsyncOpenAI) -> None:
    text = "a sentence of forty characters, or so..."
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="wav")

    assert speech.response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(speech.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 24_000)
        assert audio.getnframes() == round(len(text) * SPEECH_SECONDS_PER_CHAR * 24_000)
        samples = struct.unpack(f"<{audio.getnframes()}h", audio.readframes(audio.getnframes()))
    assert max(samples) > 1000  # a tone, not silence


@pytest.mark.parametrize("response_format", sorted(CONTENT_TYPES))
async def test_speech_formats_carry_openai_content_types(
    client: openai.AsyncOpenAI, response_format: str
) -> None:
    speech = await client.audio.speech.create(
        model="tts-1", voice="nova", input="hello there", response_format=response_format, speed=0.5
    )
    assert speech.response.headers["content-type"] == CONTENT_TYPES[response_format]
    seconds = len("hello there") * SPEECH_SECONDS_PER_CHAR / 0.5
    audio = speech.content
    if response_format == "pcm":
        assert len(audio) == 2 * round(seconds * 24_000)
    elif response_format == "mp3":
        assert audio[:4] == b"\xff\xfb\x90\xc4" and len(audio) % 417 == 0
        assert len(audio) // 417 == math.ceil(seconds * 44_100 / 1152)
    else:
        assert audio[:4] in (b"RIFF", b"OggS", b"fLaC") or audio[:2] == b"\xff\xf1"


async def test_speech_defaults_to_mp3(client: openai.AsyncOpenAI) -> None:
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    assert speech.response.headers["content-type"] == "audio/mpeg"


async def test_speech_body_fields_the_sdk_does_not_know_are_fidelity_errors(fake: FakeOpenAIUpstream) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": "hi", "text": "hi"}
    async with aiohttp.ClientSession() as session:
        url, headers = fake.base_url + "/audio/speech", {"Authorization": "Bearer sk-fake"}
        async with session.post(url, json=body, headers=headers) as response:
            assert response.status == 500
    assert len(fake.fidelity_errors) == 1 and "SpeechCreateParams" in fake.fidelity_errors[0]
    fake.fidelity_errors.clear()


async def test_speech_refuses_a_speed_out_of_range(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=5)
    assert caught.value.param == "speed"


# ------------------------------------------------------------------ transcription


async def test_verbose_transcription_reads_the_wav_duration(client: openai.AsyncOpenAI) -> None:
    answer = await client.audio.transcriptions.create(
        model="whisper-1",
        file=("a.wav", wav(2.5), "audio/wav"),
        response_format="verbose_json",
        language="fr",
    )
    assert (answer.text, answer.duration, answer.language) == (TRANSCRIPT, 2.5, "french")
    assert answer.segments is not None and answer.segments[0].end == 2.5
    assert answer.usage is not None and answer.usage.seconds == 3


async def test_whisper_json_reports_usage_by_duration(client: openai.AsyncOpenAI) -> None:
    answer = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.wav", wav(1.2), "audio/wav")
    )
    assert answer.text == TRANSCRIPT
    assert answer.usage is not None and answer.usage.type == "duration"
    assert answer.usage.seconds == 2


async def test_transcribe_models_report_tokens_and_refuse_verbose_json(client: openai.AsyncOpenAI) -> None:
    # Not a WAV: taken for 128 kbit/s audio, so 32,000 bytes are two seconds.
    mp3 = ("a.mp3", bytes(32_000), "audio/mpeg")
    answer = await client.audio.transcriptions.create(model="gpt-4o-transcribe", file=mp3)
    assert answer.usage is not None and answer.usage.type == "tokens"
    assert answer.usage.input_tokens == 2 * AUDIO_TOKENS_PER_SECOND
    assert answer.usage.output_tokens == len(TRANSCRIPT.split())

    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(
            model="gpt-4o-mini-transcribe", file=mp3, response_format="verbose_json"
        )
    assert caught.value.param == "response_format"


async def test_transcription_as_text(client: openai.AsyncOpenAI) -> None:
    answer = await client.audio.transcriptions.create(
        model="whisper-1", file=("a.wav", wav(1), "audio/wav"), response_format="text"
    )
    assert answer == TRANSCRIPT + "\n"


async def test_transcription_refuses_a_language_that_is_not_iso_639_1(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", wav(1), "audio/wav"), language="en-US"
        )
    assert caught.value.param == "language"


# The SDK marks translations deprecated; OpenAI still serves them, and the gateway relays them.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
async def test_translations(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    plain = await client.audio.translations.create(model="whisper-1", file=("a.wav", wav(1), "audio/wav"))
    verbose = await client.audio.translations.create(
        model="whisper-1", file=("a.wav", wav(1.5), "audio/wav"), response_format="verbose_json"
    )
    assert plain.text == TRANSLATION
    assert (verbose.text, verbose.duration, verbose.language) == (TRANSLATION, 1.5, "english")
    assert fake.paths == ["/v1/audio/translations"] * 2


# ------------------------------------------------------------------------ failures


async def test_failure_knobs_work_for_media(fake: FakeOpenAIUpstream, client: openai.AsyncOpenAI) -> None:
    fake.fail_next.extend([500, 429, "disconnect", "midstream"])
    with pytest.raises(openai.InternalServerError):
        await client.images.generate(model="dall-e-2", prompt="a fox")
    with pytest.raises(openai.RateLimitError):
        await client.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    with pytest.raises(openai.APIConnectionError):
        await client.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(1), "audio/wav"))
    with pytest.raises(openai.APIConnectionError):
        await client.audio.speech.create(model="tts-1", voice="alloy", input="hi")

    # The queue is drained; every attempt was recorded.
    assert (await client.images.generate(model="dall-e-2", prompt="a fox")).data
    assert len(fake.requests) == 5


async def test_media_needs_the_key(fake: FakeOpenAIUpstream) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-wrong-key-1234", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav(1), "audio/wav"))
        with pytest.raises(openai.AuthenticationError):
            await bad.images.generate(model="dall-e-2", prompt="a fox")


async def test_edits_want_a_form(fake: FakeOpenAIUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        url, headers = fake.base_url + "/images/edits", {"Authorization": "Bearer sk-fake"}
        async with session.post(url, json={"prompt": "a hat"}, headers=headers) as response:
            assert response.status == 400
            assert "expected multipart/form-data" in (await response.json())["error"]["message"]
