"""Deepgram's answers, checked before they are passed on."""

from __future__ import annotations

import pytest

from omnigate.providers.deepgram.response import InvalidResponse, audio_type, transcript


@pytest.mark.parametrize(
    "content_type", ["audio/wav", "audio/mpeg", "Audio/L16; rate=8000", "application/octet-stream"]
)
def test_speech_answers_are_audio(content_type: str) -> None:
    assert audio_type(content_type) == content_type


@pytest.mark.parametrize("content_type", ["application/json", "text/html; charset=utf-8", ""])
def test_an_answer_that_is_not_audio_is_invalid(content_type: str) -> None:
    with pytest.raises(InvalidResponse, match="instead of audio"):
        audio_type(content_type)


def test_a_transcript_passes_as_it_came_with_its_seconds() -> None:
    answer = {"metadata": {"duration": 12.25, "channels": 1}, "results": {"channels": []}}
    body, seconds = transcript(answer)
    assert body is answer
    assert seconds == 12.25


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"request_id": "e0c1"},  # what a callback request gets: never sent, never passed on
        {"metadata": {"duration": 3}, "results": None},
        {"metadata": {}, "results": {}},
        {"metadata": {"duration": True}, "results": {}},
        {"metadata": {"duration": -1}, "results": {}},
    ],
)
def test_a_transcript_without_results_or_duration_is_invalid(answer: object) -> None:
    with pytest.raises(InvalidResponse):
        transcript(answer)
