"""Deepgram's answers → the service's: audio as it came for `tts`, the transcript as it came for
`stt` (Deepgram's transcript object is the service's STT result)."""

from __future__ import annotations


class InvalidResponse(ValueError):
    """A 200 answer the gateway cannot pass on; its message completes "provider X ..."."""


def audio_type(content_type: str) -> str:
    """The Content-Type of a speak answer, which must be audio (raw audio may come untyped)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime.startswith("audio/") or mime == "application/octet-stream":
        return content_type
    raise InvalidResponse(f"answered {mime or 'an untyped body'} instead of audio")


def transcript(data: object) -> tuple[dict, float]:
    """A listen answer and the seconds of audio Deepgram heard, which is what STT is billed on."""
    if not isinstance(data, dict):
        raise InvalidResponse("returned a body that is not a JSON object")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(data.get("results"), dict):
        raise InvalidResponse("returned a transcript without metadata or results")
    duration = metadata.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
        raise InvalidResponse("returned a transcript without the audio's duration")
    return data, float(duration)
