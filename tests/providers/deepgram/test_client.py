"""DeepgramProvider against the fake Deepgram: real sockets, real audio, the SDK's types."""

from __future__ import annotations

import orjson
import pytest

from omnigate.providers.base import UpstreamFailure
from omnigate.providers.deepgram.client import DeepgramProvider
from omnigate.providers.media import MediaJob, MediaResult, Upload
from tests.providers.deepgram import audio
from tests.providers.deepgram.fake_deepgram import RAW_TYPE, FakeDeepgram

TEXT = "Hello from the gateway."


async def speak(provider: DeepgramProvider, **options: object) -> MediaResult:
    return await provider.run_media(MediaJob("tts", {"model": "aura-asteria-en", "text": TEXT, **options}))


async def failure(provider: DeepgramProvider, job: MediaJob) -> UpstreamFailure:
    with pytest.raises(UpstreamFailure) as caught:
        await provider.run_media(job)
    return caught.value


async def test_speech_is_the_audio_deepgram_made_billed_by_character(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    result = await speak(provider)
    assert result.content_type == "audio/wav"
    heard = audio.read_wav(result.audio or b"")
    assert heard == audio.WavInfo("linear16", 1, 24_000, pytest.approx(audio.speech_seconds(TEXT)))
    assert result.used.characters == len(TEXT) and result.body is None
    sent = fake.requests[-1]
    assert sent.path == "/v1/speak" and sent.query == [("model", "aura-asteria-en")]
    assert orjson.loads(sent.body) == {"text": TEXT}
    assert sent.headers["authorization"] == f"Token {fake.api_key}"
    assert sent.headers["content-type"] == "application/json"


async def test_speech_options_choose_the_audio(provider: DeepgramProvider, fake: FakeDeepgram) -> None:
    raw = await speak(provider, encoding="mulaw", container="none", sample_rate="8000")
    assert raw.content_type == RAW_TYPE
    assert raw.audio == audio.pcm_silence("mulaw", 8000, audio.speech_seconds(TEXT))
    assert fake.requests[-1].query == [
        ("model", "aura-asteria-en"),
        ("encoding", "mulaw"),
        ("container", "none"),
        ("sample_rate", "8000"),
    ]
    mp3 = await speak(provider, encoding="mp3")
    assert mp3.content_type == "audio/mpeg"
    assert mp3.audio is not None and mp3.audio[:2] == b"\xff\xf3"


async def test_a_file_is_transcribed_and_billed_by_its_seconds(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    upload = Upload("audio", "call.wav", "audio/wav", audio.wav("linear16", 16_000, 2.5))
    result = await provider.run_media(MediaJob("stt", {"model": "nova-2-general"}, [upload]))
    assert result.used.seconds == 2.5
    assert result.body is not None
    assert result.body["metadata"]["duration"] == 2.5
    alternative = result.body["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == fake.words
    assert [w["word"] for w in alternative["words"]] == fake.words.split()
    assert alternative["words"][-1]["end"] == 2.5
    sent = fake.requests[-1]
    assert (sent.path, sent.body, sent.headers["content-type"]) == ("/v1/listen", upload.data, "audio/wav")
    assert sent.query == [("model", "nova-2-general")]


async def test_a_url_goes_to_deepgram_with_every_option(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    body = {
        "model": "whisper-base",
        "url": "https://example.com/meeting.wav",
        "punctuate": True,
        "diarize": True,
        "smart_format": False,
        "detect_language": True,
        "language": "en",
        "tag": ["team-a", "nightly"],
        "utt_split": 0.8,
        "diarize_version": "2021-07-14.0",
    }
    result = await provider.run_media(MediaJob("stt", body))
    assert result.used.seconds == fake.url_seconds
    sent = fake.requests[-1]
    assert orjson.loads(sent.body) == {"url": "https://example.com/meeting.wav"}
    assert sent.headers["content-type"] == "application/json"
    assert sent.query == [
        ("model", "whisper-base"),
        ("punctuate", "true"),
        ("diarize", "true"),
        ("smart_format", "false"),
        ("detect_language", "true"),
        ("language", "en"),
        ("tag", "team-a"),
        ("tag", "nightly"),
        ("utt_split", "0.8"),
        ("diarize_version", "2021-07-14.0"),
    ]
    assert result.body is not None
    channel = result.body["results"]["channels"][0]
    assert channel["alternatives"][0]["transcript"] == "Hello from the fake deepgram."
    assert channel["detected_language"] == "en"
    assert {w["speaker"] for w in channel["alternatives"][0]["words"]} == {0}
    assert result.body["metadata"]["tags"] == ["team-a", "nightly"]


async def test_multi_channel_is_deepgrams_multichannel(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    stereo = Upload("audio", "s.wav", "audio/wav", audio.wav("linear16", 8_000, 1.0, channels=2))
    result = await provider.run_media(
        MediaJob("stt", {"model": "nova-2-phonecall", "multi_channel": True}, [stereo])
    )
    assert fake.requests[-1].param("multichannel") == ["true"]
    assert result.body is not None and result.body["metadata"]["channels"] == 2
    assert len(result.body["results"]["channels"]) == 2


async def test_refused_credentials_reveal_neither_key_nor_deepgrams_words(
    fake: FakeDeepgram,
) -> None:
    backend = DeepgramProvider("dg", fake.base_url, api_key="dg-wrong-9c8b7a6d5e", read_timeout_s=2.0)
    await backend.start()
    try:
        fake.error_message = "Invalid credentials: key dg-wrong-9c8b7a6d5e is revoked"
        failed = await failure(backend, MediaJob("tts", {"model": "aura-asteria-en", "text": "hi"}))
    finally:
        await backend.close()
    assert failed.retryable
    assert (failed.error.status, failed.error.code) == (502, "upstream_auth")
    assert "dg-wrong" not in failed.error.message and "revoked" not in failed.error.message
    assert fake.requests[-1].headers["authorization"] == "Token dg-wrong-9c8b7a6d5e"


async def test_a_refused_request_passes_deepgrams_words_scrubbed(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    fake.fail_next = [400]
    fake.modern_errors = True
    fake.error_message = f"Bad voice for key {fake.api_key}; see https://dg.internal.example/voices"
    failed = await failure(provider, MediaJob("tts", {"model": "aura-asteria-en", "text": "hi"}))
    assert not failed.retryable
    assert failed.error.status == 400
    assert failed.error.message == "Bad voice for key [redacted]; see [url]"


async def test_deepgrams_refusal_of_the_audio_reaches_the_client(provider: DeepgramProvider) -> None:
    junk = Upload("audio", "a.wav", "audio/wav", b"not audio at all")
    failed = await failure(provider, MediaJob("stt", {"model": "nova-2-general"}, [junk]))
    assert (failed.error.status, failed.retryable) == (400, False)
    assert "failed to process audio" in failed.error.message


async def test_an_unknown_voice_is_the_clients_to_fix(provider: DeepgramProvider) -> None:
    failed = await failure(provider, MediaJob("tts", {"model": "aura-nobody-en", "text": "hi"}))
    assert (failed.error.status, failed.retryable) == (400, False)
    assert "aura-nobody-en" in failed.error.message


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(429, "rate_limited", True), (402, "upstream_billing", True), (500, "upstream_error", True)],
)
async def test_failures_map_as_for_every_upstream(
    provider: DeepgramProvider, fake: FakeDeepgram, status: int, code: str, retryable: bool
) -> None:
    fake.fail_next = [status]
    failed = await failure(
        provider, MediaJob("stt", {"model": "nova-2-general", "url": "https://x.org/a.wav"})
    )
    assert (failed.error.code, failed.retryable) == (code, retryable)
    assert "fake failure" not in failed.error.message
    if status == 429:
        assert failed.error.headers == {"Retry-After": fake.retry_after}
        assert failed.retry_after == float(fake.retry_after)


async def test_a_silent_deepgram_is_a_timeout(provider: DeepgramProvider, fake: FakeDeepgram) -> None:
    fake.fail_next = ["hang"]
    fake.hang_seconds = 3.0  # past the provider's 1 s read timeout
    failed = await failure(provider, MediaJob("tts", {"model": "aura-asteria-en", "text": "hi"}))
    assert (failed.error.status, failed.error.code, failed.retryable) == (504, "upstream_timeout", True)


async def test_an_unreachable_deepgram() -> None:
    backend = DeepgramProvider(
        "dg", "http://127.0.0.1:9", api_key="dg-test-3f9a1c7e5b20", connect_timeout_s=1.0
    )
    await backend.start()
    try:
        failed = await failure(backend, MediaJob("tts", {"model": "aura-asteria-en", "text": "hi"}))
    finally:
        await backend.close()
    assert (failed.error.status, failed.error.code) == (502, "upstream_unreachable")
    assert "127.0.0.1" not in failed.error.message


async def test_requests_deepgram_cannot_answer_are_refused_before_sending(
    provider: DeepgramProvider, fake: FakeDeepgram
) -> None:
    for job in (
        MediaJob("stt", {"model": "nova-2-general"}),
        MediaJob(
            "stt", {"model": "nova-2-general", "url": "https://x.org/a.wav", "callback": "https://me.example"}
        ),
        MediaJob("tts", {"model": "aura-asteria-en"}),
    ):
        failed = await failure(provider, job)
        # Not retryable: the client's to fix, and no deployment cools down over it.
        assert (failed.error.status, failed.retryable) == (400, False)
    assert fake.requests == []


async def test_the_v1_base_url_means_the_same_root(fake: FakeDeepgram) -> None:
    backend = DeepgramProvider("dg", fake.base_url + "/v1/", api_key=fake.api_key)
    await backend.start()
    try:
        result = await backend.run_media(MediaJob("tts", {"model": "aura-2-helena-en", "text": "hi"}))
    finally:
        await backend.close()
    assert result.audio and fake.requests[-1].path == "/v1/speak"


async def test_it_serves_no_chat(provider: DeepgramProvider) -> None:
    assert provider.media_families == {"tts", "stt"} and not provider.embeds
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    for call in (provider.complete(body, account_id=1), provider.open_stream(body, account_id=1)):
        with pytest.raises(UpstreamFailure) as caught:
            await call
        # Retryable: another deployment of the model may serve it.
        assert caught.value.retryable
        assert (caught.value.error.status, caught.value.error.code) == (503, "model_not_configured")
        assert "serves no chat" in caught.value.error.message
