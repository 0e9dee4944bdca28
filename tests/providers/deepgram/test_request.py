"""The service's tts/stt bodies → Deepgram's query strings and bodies."""

from __future__ import annotations

import orjson
import pytest

from omnigate.errors import ApiError
from omnigate.providers.deepgram.request import listen, query, speak
from omnigate.providers.media import Upload

WAV = Upload("audio", "a.wav", "audio/wav", b"RIFF....WAVE")


def test_speak_puts_the_options_in_the_query_and_the_text_in_the_body() -> None:
    wire = speak(
        {
            "model": "aura-2-helena-en",
            "text": "Hi there",
            "encoding": "linear16",
            "container": "wav",
            "sample_rate": "16000",
        }
    )
    assert wire.path == "/v1/speak"
    assert wire.query == [
        ("model", "aura-2-helena-en"),
        ("encoding", "linear16"),
        ("container", "wav"),
        ("sample_rate", "16000"),
    ]
    assert orjson.loads(wire.body) == {"text": "Hi there"}
    assert wire.content_type == "application/json"


@pytest.mark.parametrize("text", [None, "", 5])
def test_speak_needs_text(text: object) -> None:
    with pytest.raises(ApiError) as caught:
        speak({"model": "aura-asteria-en", "text": text})
    assert (caught.value.status, caught.value.param) == (400, "text")


def test_listen_sends_a_file_as_its_bytes_with_its_type() -> None:
    wire = listen({"model": "nova-2-general", "punctuate": True}, WAV)
    assert wire.path == "/v1/listen"
    assert wire.query == [("model", "nova-2-general"), ("punctuate", "true")]
    assert (wire.body, wire.content_type) == (WAV.data, "audio/wav")


def test_a_file_typed_as_json_goes_as_bytes() -> None:
    # Deepgram would read a JSON body as {"url"}: an upload is audio whatever its label says.
    wire = listen({"model": "nova-2-general"}, Upload("audio", "a", "application/json; charset=utf-8", b"{}"))
    assert wire.content_type == "application/octet-stream"
    assert listen({"model": "nova-2-general"}, Upload("audio", "a", "", b"x")).content_type == (
        "application/octet-stream"
    )


def test_listen_sends_a_url_for_deepgram_to_fetch() -> None:
    wire = listen({"model": "whisper-base", "url": "https://example.com/a.mp3", "language": "en"}, None)
    assert wire.query == [("model", "whisper-base"), ("language", "en")]
    assert orjson.loads(wire.body) == {"url": "https://example.com/a.mp3"}
    assert wire.content_type == "application/json"


@pytest.mark.parametrize(
    ("body", "audio"),
    [({"model": "nova-2-general"}, None), ({"model": "nova-2-general", "url": "https://x.org/a.wav"}, WAV)],
)
def test_listen_needs_exactly_one_audio(body: dict, audio: Upload | None) -> None:
    with pytest.raises(ApiError) as caught:
        listen(body, audio)
    assert (caught.value.status, caught.value.param) == (400, "url")


def test_options_in_deepgrams_query_terms() -> None:
    pairs = query(
        {
            "model": "nova-2-meeting",
            "diarize": True,
            "smart_format": False,
            "utt_split": 0.8,
            "tag": ["team-a", "nightly"],
            "custom_topic": "billing",
            "multi_channel": True,
            "keywords": None,
        }
    )
    assert pairs == [
        ("model", "nova-2-meeting"),
        ("diarize", "true"),
        ("smart_format", "false"),
        ("utt_split", "0.8"),
        ("tag", "team-a"),
        ("tag", "nightly"),
        ("custom_topic", "billing"),
        ("multichannel", "true"),  # the service's `multi_channel` is Deepgram's `multichannel`
    ]


@pytest.mark.parametrize("key", ["callback", "callback_method"])
def test_deferred_answers_are_refused(key: str) -> None:
    # Deepgram would answer at the caller's address: nothing to return, nothing to charge.
    with pytest.raises(ApiError) as caught:
        query({"model": "nova-2-general", key: "https://example.com/hook"})
    assert (caught.value.status, caught.value.param) == (400, key)
    assert query({"model": "nova-2-general", "callback": None}) == [("model", "nova-2-general")]


def test_an_option_that_is_no_scalar_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        query({"search": {"term": "x"}})
    assert (caught.value.status, caught.value.param) == (400, "search")
