"""Audio the speech engines make, in the format and at the speed a client asked for.

The engines write 16-bit mono WAV. Other formats, and speeds other than 1, go through ffmpeg in a
separate process (stdin to stdout, no temporary file), so the event loop never encodes.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import wave

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure

# OpenAI's speech formats: ffmpeg's arguments for each, and the answer's content type.
FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    "mp3": (("-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"), "audio/mpeg"),
    "opus": (("-c:a", "libopus", "-b:a", "32k", "-f", "ogg"), "audio/ogg"),
    "aac": (("-c:a", "aac", "-b:a", "64k", "-f", "adts"), "audio/aac"),
    "flac": (("-f", "flac"), "audio/flac"),
    # OpenAI's pcm: raw 24 kHz 16-bit signed little-endian samples, no header.
    "pcm": (("-ar", "24000", "-ac", "1", "-f", "s16le"), "audio/pcm"),
    "wav": (
        (
            "-f",
            "s16le",
        ),
        "audio/wav",
    ),  # re-wrapped here: ffmpeg cannot size a piped WAV
}


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


async def encode(wav_data: bytes, response_format: str, speed: float) -> tuple[bytes, str]:
    """The audio in `response_format`, played `speed` times as fast; and its content type."""
    args, content_type = FORMATS[response_format]
    if response_format == "wav" and speed == 1:
        return wav_data, content_type
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UpstreamFailure(
            ApiError(
                503,
                f"Service unavailable: the local speech engines need ffmpeg for {response_format!r} "
                "(or a speed other than 1); install it, or ask for response_format 'wav'.",
                code="engine_missing",
            ),
            retryable=True,
        )
    filters = ("-filter:a", _tempo(speed)) if speed != 1 else ()
    command = (ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", *filters, *args)
    process = await asyncio.create_subprocess_exec(
        *command,
        "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate(wav_data)
    except asyncio.CancelledError:
        process.kill()
        raise
    if process.returncode != 0:
        raise UpstreamFailure(
            ApiError(502, f"Bad Gateway: ffmpeg could not encode {response_format}: {err.decode()[-300:]}"),
            retryable=False,
        )
    if response_format == "wav":
        out = _wrap(out, wav_data)
    return out, content_type


def _tempo(speed: float) -> str:
    """ffmpeg's atempo takes 0.5 to 2 per filter: chain filters for 0.25 to 4."""
    parts = []
    while speed > 2:
        parts.append("atempo=2")
        speed /= 2
    while speed < 0.5:
        parts.append("atempo=0.5")
        speed /= 0.5
    parts.append(f"atempo={speed:.6f}")
    return ",".join(parts)


def _wrap(samples: bytes, like: bytes) -> bytes:
    """Raw samples as a WAV with the rate and layout of the engine's own WAV."""
    with wave.open(io.BytesIO(like)) as source:
        rate, channels, width = source.getframerate(), source.getnchannels(), source.getsampwidth()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples)
    return out.getvalue()
