"""End to end: HTTP clients → the real gateway → the `deepgram` preset's provider → the fake Deepgram."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest

from omnigate.settings import load_settings
from tests.providers.deepgram import audio
from tests.providers.deepgram.fake_deepgram import FakeDeepgram
from tests.server import funded_account, serve


@dataclass
class Gateway:
    root: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def gateway(fake: FakeDeepgram, tmp_path: Path) -> AsyncIterator[Gateway]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"
            [engines]
            builtin = false
            [billing]
            unpriced = "free"
            flush_interval_s = 0.05
            [providers.dg]
            preset = "deepgram"
            base_url = "{fake.base_url}"
            api_key = "{fake.api_key}"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 1_000_000)
    try:
        async with serve(settings) as (_, root):
            yield Gateway(root, key)
    finally:
        db.close()


async def test_tts_answers_deepgrams_audio(gateway: Gateway, fake: FakeDeepgram) -> None:
    text = "The gateway speaks."
    async with aiohttp.ClientSession(headers=gateway.headers) as session:
        body = {"model": "#g1_aura-2-helena-en", "text": text, "sample_rate": "16000"}
        async with session.post(f"{gateway.root}/v1/tts", json=body) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "audio/wav"
            wav = await response.read()
    assert audio.read_wav(wav) == audio.WavInfo(
        "linear16", 1, 16_000, pytest.approx(audio.speech_seconds(text))
    )
    assert fake.requests[-1].query == [("model", "aura-2-helena-en"), ("sample_rate", "16000")]


async def test_stt_answers_deepgrams_transcript(gateway: Gateway, fake: FakeDeepgram) -> None:
    form = aiohttp.FormData()
    form.add_field("model", "#g1_nova-2-general")
    form.add_field("punctuate", "true")
    form.add_field("audio", audio.wav("linear16", 8_000, 3.0), filename="call.wav", content_type="audio/wav")
    async with aiohttp.ClientSession(headers=gateway.headers) as session:
        async with session.post(f"{gateway.root}/v1/stt", data=form) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    assert answer["metadata"]["duration"] == 3.0
    assert answer["meta"]["usage"] == {"tokens_used": 0}  # unpriced = "free"
    assert (
        answer["results"]["channels"][0]["alternatives"][0]["transcript"] == "Hello from the fake deepgram."
    )
    sent = fake.requests[-1]
    assert sent.query == [("model", "nova-2-general"), ("punctuate", "true")]
    assert sent.headers["content-type"] == "audio/wav"


async def test_stt_by_url(gateway: Gateway, fake: FakeDeepgram) -> None:
    body = {"model": "#g1_nova-2-meeting", "url": "https://example.com/meeting.wav", "diarize": True}
    async with aiohttp.ClientSession(headers=gateway.headers) as session:
        async with session.post(f"{gateway.root}/v1/stt", json=body) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
    assert answer["metadata"]["duration"] == fake.url_seconds
    sent = fake.requests[-1]
    assert sent.query == [("model", "nova-2-meeting"), ("diarize", "true")]
    assert sent.body == b'{"url":"https://example.com/meeting.wav"}'


async def test_openais_transcriptions_route(gateway: Gateway) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gateway.root}/v1", api_key=gateway.key, max_retries=0)
    text = await client.audio.transcriptions.create(
        model="#g1_nova-2-general", file=("a.wav", audio.wav("linear16", 16_000, 1.0), "audio/wav")
    )
    assert text.text == "hello from the fake deepgram"
