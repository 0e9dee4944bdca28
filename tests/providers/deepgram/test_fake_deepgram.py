"""The official deepgram-sdk against the fake: proof that the fake speaks Deepgram's wire
protocol, and that its fidelity checks catch a drifted request."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError as SdkError
from deepgram.environment import DeepgramClientEnvironment
from deepgram.types import ListenV1Response

from tests.providers.deepgram import audio
from tests.providers.deepgram.fake_deepgram import FakeDeepgram

# The SDK loads its websocket helpers lazily, through APIs the websockets package deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:websockets.* is deprecated:DeprecationWarning")


@pytest.fixture
def sdk(fake: FakeDeepgram) -> AsyncDeepgramClient:
    environment = DeepgramClientEnvironment(
        base=fake.base_url, production="ws://unused", agent="ws://unused", agent_rest="http://unused"
    )
    return AsyncDeepgramClient(api_key=fake.api_key, environment=environment, max_retries=0, timeout=5)


async def _joined(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_the_sdk_transcribes_a_file(sdk: AsyncDeepgramClient, fake: FakeDeepgram) -> None:
    answer = await sdk.listen.v1.media.transcribe_file(
        request=audio.wav("linear16", 16_000, 1.5), model="nova-2-general", punctuate=True, diarize=True
    )
    assert isinstance(answer, ListenV1Response)
    assert answer.metadata.duration == 1.5
    alternative = answer.results.channels[0].alternatives[0]
    assert alternative.transcript == "Hello from the fake deepgram."
    assert alternative.words[0].speaker == 0
    assert fake.requests[-1].param("punctuate") == ["true"]


async def test_the_sdk_transcribes_a_url(sdk: AsyncDeepgramClient, fake: FakeDeepgram) -> None:
    answer = await sdk.listen.v1.media.transcribe_url(
        url="https://example.com/a.wav", model="whisper-base", tag=["a", "b"], utt_split=0.8
    )
    assert isinstance(answer, ListenV1Response)
    assert answer.metadata.duration == fake.url_seconds
    assert answer.metadata.tags == ["a", "b"]


async def test_the_sdk_speaks(sdk: AsyncDeepgramClient) -> None:
    text = "Good morning."
    seconds = audio.speech_seconds(text)
    wav = await _joined(sdk.speak.v1.audio.generate(text=text, model="aura-2-helena-en"))
    assert audio.read_wav(wav) == audio.WavInfo("linear16", 1, 24_000, pytest.approx(seconds))
    mp3 = await _joined(
        sdk.speak.v1.audio.generate(text=text, model="aura-2-helena-en", encoding="mp3", bit_rate=32_000)
    )
    # 104-byte MPEG-2 Layer III frames (32 kbit/s, 22,050 Hz, mono) of 576 samples each.
    assert mp3[:4] == b"\xff\xf3\x40\xc0"
    assert len(mp3) == 104 * math.ceil(seconds * 22_050 / 576)


async def test_the_sdk_reads_the_fakes_errors(sdk: AsyncDeepgramClient, fake: FakeDeepgram) -> None:
    fake.fail_next = [429]
    with pytest.raises(SdkError) as caught:
        await sdk.listen.v1.media.transcribe_url(url="https://example.com/a.wav", model="nova-2-general")
    assert caught.value.status_code == 429
    assert caught.value.body["err_code"] == "TOO_MANY_REQUESTS"
    assert caught.value.headers["retry-after"] == fake.retry_after


async def test_a_query_the_sdk_would_not_send_is_caught(fake: FakeDeepgram) -> None:
    headers = {"Authorization": f"Token {fake.api_key}"}
    async with aiohttp.ClientSession() as session:
        for query in ("model=nova-2-general&multi_channel=true", "model=nova-2-general&punctuate=yes"):
            url = f"{fake.base_url}/v1/listen?{query}"
            async with session.post(
                url, json={"url": "https://example.com/a.wav"}, headers=headers
            ) as response:
                assert response.status == 400
    assert len(fake.fidelity_errors) == 2
    assert "`multi_channel` is not a parameter" in fake.fidelity_errors[0]
    assert "`punctuate` is a boolean" in fake.fidelity_errors[1]
    fake.fidelity_errors.clear()
