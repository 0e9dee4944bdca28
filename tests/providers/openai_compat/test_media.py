"""OpenAICompatProvider's media families against the fake OpenAI upstream: what goes out on the
wire, what comes back as the service's result, what the call is billed, and how failures map."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from omnigate.billing.pricing import Used
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.openai_compat.client import OpenAICompatProvider
from omnigate.providers.openai_compat.media import wav_seconds
from tests.fakes.openai_media import AUDIO_TOKENS_PER_SECOND, IMAGE_TOKENS, TRANSCRIPT, TRANSLATION, FormFile
from tests.fakes.openai_upstream import FakeOpenAIUpstream

# The fake checks only an upload's signature.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)
MASK = b"\x89PNG\r\n\x1a\n" + b"mask"


def wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(bytes(2 * round(seconds * rate)))
    return out.getvalue()


def transcript(text: str, seconds: float) -> dict:
    return {
        "metadata": {"duration": seconds},
        "results": {"channels": [{"alternatives": [{"transcript": text}]}]},
    }


async def test_serves_the_openai_media_families() -> None:
    assert OpenAICompatProvider.media_families == {"image", "image-edit", "tts", "stt", "translate"}


# ------------------------------------------------------------------------ images


async def test_image_generation_sends_the_body_and_keeps_the_answer(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    body = {
        "model": "dall-e-3",
        "prompt": "a red fox",
        "size": "1024x1024",
        "quality": "hd",
        "style": "vivid",
        "response_format": "url",
    }
    result = await provider.run_media(MediaJob("image", dict(body)))

    assert fake.paths == ["/v1/images/generations"]
    assert fake.requests == [body]
    assert fake.headers[0]["authorization"] == "Bearer sk-fake"
    assert result.body is not None
    (image,) = result.body["data"]
    assert image["url"].startswith(fake.base_url + "/generated/")
    assert image["revised_prompt"] == "revised: a red fox"
    assert result.used == Used(images=1)
    assert result.audio is None


async def test_gpt_image_bills_its_images_and_tokens(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    # The service lets clients ask gpt-image-1 for URLs; OpenAI refuses the field for it.
    body = {"model": "gpt-image-1", "prompt": "two foxes", "n": 2, "response_format": "url"}
    result = await provider.run_media(MediaJob("image", body))

    assert fake.requests == [{"model": "gpt-image-1", "prompt": "two foxes", "n": 2}]
    assert result.body is not None
    assert [sorted(item) for item in result.body["data"]] == [["b64_json"], ["b64_json"]]
    assert result.body["usage"]["output_tokens"] == 2 * IMAGE_TOKENS
    assert result.used == Used(prompt_tokens=2, completion_tokens=2 * IMAGE_TOKENS, images=2)


async def test_image_edit_sends_one_image_and_the_mask_as_a_form(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    files = [Upload("image", "fox.png", "image/png", PNG), Upload("mask", "mask.png", "image/png", MASK)]
    body = {
        "model": "gpt-image-1",
        "prompt": "add a hat",
        "n": 1,
        "size": "1024x1024",
        "user": None,
        "response_format": "b64_json",
    }
    result = await provider.run_media(MediaJob("image-edit", body, files))

    assert fake.paths == ["/v1/images/edits"]
    assert fake.headers[0]["content-type"].startswith("multipart/form-data; boundary=")
    assert fake.headers[0]["authorization"] == "Bearer sk-fake"
    # Numbers as text, as any form carries them; a None is left out.
    assert fake.requests == [
        {
            "model": "gpt-image-1",
            "prompt": "add a hat",
            "n": "1",
            "size": "1024x1024",
            "image": FormFile("fox.png", "image/png", PNG),
            "mask": FormFile("mask.png", "image/png", MASK),
        }
    ]
    assert result.body is not None and len(result.body["data"]) == 1
    assert result.used == Used(prompt_tokens=3 + IMAGE_TOKENS, completion_tokens=IMAGE_TOKENS, images=1)


async def test_image_edit_sends_several_images_as_an_array(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    files = [Upload("image", f"{n}.png", "image/png", PNG + bytes([n])) for n in range(3)]
    result = await provider.run_media(
        MediaJob("image-edit", {"model": "gpt-image-1", "prompt": "merge them"}, files)
    )

    (sent,) = fake.requests
    assert "image" not in sent
    assert sent["image[]"] == [FormFile(f"{n}.png", "image/png", PNG + bytes([n])) for n in range(3)]
    assert result.used.prompt_tokens == 2 + 3 * IMAGE_TOKENS


# ------------------------------------------------------------------------ speech


async def test_speech_sends_text_as_input_and_answers_the_audio(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    # Fields OpenAI does not know are not sent (the fake refuses them).
    body = {
        "model": "gpt-4o-mini-tts",
        "text": "hello world",
        "voice": "alloy",
        "response_format": "wav",
        "speed": 2.0,
        "style": "cheerful",
        "stream": False,
    }
    result = await provider.run_media(MediaJob("tts", body))

    assert fake.paths == ["/v1/audio/speech"]
    assert fake.requests == [
        {
            "model": "gpt-4o-mini-tts",
            "input": "hello world",
            "voice": "alloy",
            "response_format": "wav",
            "speed": 2.0,
            "instructions": "cheerful",
        }
    ]
    assert result.content_type == "audio/wav"
    assert result.audio is not None
    with wave.open(io.BytesIO(result.audio)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(11 * 0.05 / 2)
    assert result.used == Used(characters=11)
    assert result.body is None


@pytest.mark.parametrize(
    ("response_format", "content_type"),
    [(None, "audio/mpeg"), ("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("pcm", "audio/pcm")],
)
async def test_speech_keeps_the_upstream_content_type(
    provider: OpenAICompatProvider, response_format: str | None, content_type: str
) -> None:
    body = {"model": "tts-1", "text": "hi", "voice": "coral"}
    if response_format:
        body["response_format"] = response_format
    result = await provider.run_media(MediaJob("tts", body))
    assert result.content_type == content_type
    assert result.audio


@asynccontextmanager
async def upstream_answering(answer: Callable[[], web.Response]) -> AsyncIterator[OpenAICompatProvider]:
    """The adapter against an upstream that answers every POST with `answer()`."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return answer()

    app = web.Application()
    app.router.add_post("/v1/{path:.*}", handle)
    server = TestServer(app)
    await server.start_server()
    provider = OpenAICompatProvider("odd", str(server.make_url("/v1")), api_key="sk-odd")
    await provider.start()
    try:
        yield provider
    finally:
        await provider.close()
        await server.close()


@pytest.mark.parametrize(
    ("response_format", "content_type"), [("wav", "audio/wav"), ("flac", "audio/flac"), ("ogg", None)]
)
async def test_speech_labels_audio_the_upstream_did_not(
    response_format: str, content_type: str | None
) -> None:
    # LocalAI and others may send their audio as application/octet-stream.
    def octets() -> web.Response:
        return web.Response(body=b"RIFF....", content_type="application/octet-stream")

    async with upstream_answering(octets) as provider:
        body = {"model": "tts-1", "text": "hi", "voice": "alloy", "response_format": response_format}
        result = await provider.run_media(MediaJob("tts", body))
    assert result.audio == b"RIFF...."
    assert result.content_type == (content_type or "application/octet-stream")


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.json_response({"audio": None}),
        lambda: web.Response(body=b"", content_type="audio/mpeg"),
    ],
    ids=["json", "empty"],
)
async def test_speech_without_audio_is_an_invalid_answer(answer: Callable[[], web.Response]) -> None:
    async with upstream_answering(answer) as provider:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.run_media(MediaJob("tts", {"model": "tts-1", "text": "hi", "voice": "alloy"}))
    assert caught.value.error.code == "upstream_invalid"
    assert caught.value.retryable


# ------------------------------------------------------------------ transcription


async def test_transcription_asks_whisper_for_the_duration(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    audio = wav(1.5)
    body = {
        "model": "whisper-1",
        "language": "en-US",
        "prompt": "foxes",
        "temperature": 0.2,
        # Deepgram's options: OpenAI has no equivalent (the fake refuses fields it does not know).
        "punctuate": True,
        "smart_format": True,
    }
    result = await provider.run_media(MediaJob("stt", body, [Upload("audio", "a.wav", "audio/wav", audio)]))

    assert fake.paths == ["/v1/audio/transcriptions"]
    assert fake.requests == [
        {
            "model": "whisper-1",
            "response_format": "verbose_json",
            "prompt": "foxes",
            "temperature": "0.2",
            "language": "en",
            "file": FormFile("a.wav", "audio/wav", audio),
        }
    ]
    assert result.body == transcript(TRANSCRIPT, 1.5)
    assert result.used == Used(seconds=1.5)


async def test_transcription_fetches_a_url(provider: OpenAICompatProvider, fake: FakeOpenAIUpstream) -> None:
    fetched: list[str] = []
    audio = wav(2.25)

    async def fetch(url: str) -> Upload:
        fetched.append(url)
        return Upload("url", "speech.wav", "audio/wav", audio)

    url = "https://example.com/speech.wav"
    result = await provider.run_media(MediaJob("stt", {"model": "whisper-1", "url": url}, fetch=fetch))

    assert fetched == [url]
    assert fake.requests[0]["file"] == FormFile("speech.wav", "audio/wav", audio)
    assert "url" not in fake.requests[0]
    assert result.used == Used(seconds=2.25)


async def test_transcribe_models_answer_json_and_the_wav_header_says_how_long(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    result = await provider.run_media(
        MediaJob("stt", {"model": "gpt-4o-transcribe"}, [Upload("audio", "a.wav", "audio/wav", wav(2.0))])
    )

    assert fake.requests[0]["response_format"] == "json"
    assert result.body == transcript(TRANSCRIPT, 2.0)
    # The tokens the model reports are billed too, where the operator prices them.
    words = len(TRANSCRIPT.split())
    assert result.used == Used(
        prompt_tokens=2 * AUDIO_TOKENS_PER_SECOND, completion_tokens=words, seconds=2.0
    )


async def test_transcribe_models_leave_the_length_of_other_audio_unknown(
    provider: OpenAICompatProvider,
) -> None:
    mp3 = b"\xff\xfb\x90\xc4" + bytes(413 * 20 - 4)
    result = await provider.run_media(
        MediaJob("stt", {"model": "gpt-4o-mini-transcribe"}, [Upload("audio", "a.mp3", "audio/mpeg", mp3)])
    )
    assert result.body == transcript(TRANSCRIPT, 0.0)
    assert result.used.seconds == 0.0


async def test_translate_goes_to_translations(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    audio = wav(1.0)
    body = {"model": "whisper-1", "translate": True, "language": "fr", "temperature": 0}
    result = await provider.run_media(MediaJob("stt", body, [Upload("audio", "a.wav", "audio/wav", audio)]))

    assert fake.paths == ["/v1/audio/translations"]
    # Translations always come out in English: OpenAI takes no language there.
    assert fake.requests == [
        {
            "model": "whisper-1",
            "response_format": "verbose_json",
            "temperature": "0",
            "file": FormFile("a.wav", "audio/wav", audio),
        }
    ]
    assert result.body == transcript(TRANSLATION, 1.0)
    assert result.used == Used(seconds=1.0)


async def test_transcription_without_audio_is_refused(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream
) -> None:
    with pytest.raises(ApiError) as caught:
        await provider.run_media(MediaJob("stt", {"model": "whisper-1"}))
    assert (caught.value.status, caught.value.param) == (400, "url")
    assert fake.requests == []


async def test_transcription_duration_from_usage_when_the_answer_is_plain_json() -> None:
    # An upstream that ignores verbose_json still says the duration in its usage.
    def plain() -> web.Response:
        return web.json_response({"text": "hi", "usage": {"type": "duration", "seconds": 3}})

    async with upstream_answering(plain) as provider:
        job = MediaJob("stt", {"model": "whisper-1"}, [Upload("audio", "a.mp3", "audio/mpeg", b"ID3")])
        result = await provider.run_media(job)
    assert result.body == transcript("hi", 3.0)
    assert result.used == Used(seconds=3.0)


async def test_transcription_without_text_is_an_invalid_answer() -> None:
    async with upstream_answering(lambda: web.json_response({"transcript": "hi"})) as provider:
        job = MediaJob("stt", {"model": "whisper-1"}, [Upload("audio", "a.wav", "audio/wav", wav(1))])
        with pytest.raises(UpstreamFailure) as caught:
            await provider.run_media(job)
    assert caught.value.error.code == "upstream_invalid"


# ------------------------------------------------------------------------ failures

JOBS = {
    "image": MediaJob("image", {"model": "dall-e-2", "prompt": "a fox"}),
    "image-edit": MediaJob(
        "image-edit", {"model": "dall-e-2", "prompt": "a fox"}, [Upload("image", "a.png", "image/png", PNG)]
    ),
    "tts": MediaJob("tts", {"model": "tts-1", "text": "hi", "voice": "alloy"}),
    "stt": MediaJob("stt", {"model": "whisper-1"}, [Upload("audio", "a.wav", "audio/wav", wav(1))]),
}


@pytest.mark.parametrize("family", JOBS)
@pytest.mark.parametrize(
    ("status", "client_status", "code", "retryable"),
    [
        (400, 400, "invalid_request", False),
        (401, 502, "upstream_auth", True),
        (429, 429, "rate_limit_exceeded", True),
        (503, 502, "upstream_error", True),
    ],
)
async def test_upstream_errors_map_as_for_chat(
    provider: OpenAICompatProvider,
    fake: FakeOpenAIUpstream,
    family: str,
    status: int,
    client_status: int,
    code: str,
    retryable: bool,
) -> None:
    fake.fail_next.append(status)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.run_media(JOBS[family])
    assert (caught.value.error.status, caught.value.error.code) == (client_status, code)
    assert caught.value.retryable is retryable
    # The failure was the upstream's answer to this very request.
    assert len(fake.requests) == 1


@pytest.mark.parametrize("family", JOBS)
@pytest.mark.parametrize(
    ("action", "code"), [("midstream", "upstream_unreachable"), ("hang", "upstream_timeout")]
)
async def test_broken_and_stalled_answers_fail_retryably(
    provider: OpenAICompatProvider, fake: FakeOpenAIUpstream, family: str, action: str, code: str
) -> None:
    fake.hang_seconds = 5.0  # past the provider's 1 s read timeout
    fake.fail_next.append(action)
    with pytest.raises(UpstreamFailure) as caught:
        await provider.run_media(JOBS[family])
    assert caught.value.error.code == code
    assert caught.value.retryable


# -------------------------------------------------------------------- wav_seconds


def test_wav_seconds_reads_the_header() -> None:
    assert wav_seconds(wav(1.25, rate=8000)) == 1.25


def test_wav_seconds_skips_other_chunks() -> None:
    data = wav(0.5)
    # A LIST chunk of odd length (padded to even) between `fmt ` and `data`.
    fmt_end = 12 + 8 + 16
    listed = data[:fmt_end] + b"LIST" + struct.pack("<I", 3) + b"abc\x00" + data[fmt_end:]
    assert wav_seconds(listed) == 0.5


def test_wav_seconds_counts_what_a_streamed_wav_holds() -> None:
    data = bytearray(wav(0.5))
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)  # the data chunk's size, unknown when it was written
    assert wav_seconds(bytes(data)) == 0.5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID3\x03" + bytes(100),
        b"RIFF\x00\x00\x00\x00WAVE",
        b"RIFF\x04\x00\x00\x00WAVEdata\x04\x00\x00\x00",
    ],
)
def test_wav_seconds_is_zero_when_unknown(data: bytes) -> None:
    assert wav_seconds(data) == 0.0
