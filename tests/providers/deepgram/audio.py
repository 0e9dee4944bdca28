"""Real audio for the fake Deepgram, and the WAV header reading it hears uploads with.

Speech is silence whose length follows the text. WAV (linear16, mulaw, alaw) is what Deepgram
sends by default; MP3 frames of digital silence are valid MPEG-2 Layer III (22,050 Hz mono, the
rate Deepgram's MP3 has), so any decoder plays them.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

SECONDS_PER_CHARACTER = 0.05

# WAVE format tags, bytes per sample, and the byte a silent sample is.
_FORMATS = {"linear16": (1, 2, b"\x00"), "alaw": (6, 1, b"\xd5"), "mulaw": (7, 1, b"\xff")}
_TAGS = {tag: encoding for encoding, (tag, _, _) in _FORMATS.items()}

MP3_SAMPLE_RATE = 22_050
_MP3_SAMPLES_PER_FRAME = 576  # MPEG-2 Layer III
# The MPEG-2 Layer III bitrate index of the bit rates Deepgram's MP3 offers.
_MP3_BITRATE_INDEX = {32_000: 4, 48_000: 6}
MP3_BIT_RATES = tuple(_MP3_BITRATE_INDEX)  # the last is Deepgram's default


def speech_seconds(text: str) -> float:
    return len(text) * SECONDS_PER_CHARACTER


def pcm_silence(encoding: str, sample_rate: int, seconds: float) -> bytes:
    """Headerless samples (`container=none`)."""
    _, width, silent = _FORMATS[encoding]
    return silent * (round(sample_rate * seconds) * width)


def wav(encoding: str, sample_rate: int, seconds: float, channels: int = 1) -> bytes:
    """A WAV file of silence; mulaw and alaw carry the fmt extension and fact chunk they need."""
    tag, width, _ = _FORMATS[encoding]
    frames = round(sample_rate * seconds)
    data = pcm_silence(encoding, sample_rate, seconds) * channels
    fmt = struct.pack(
        "<HHIIHH", tag, channels, sample_rate, sample_rate * width * channels, width * channels, width * 8
    )
    chunks = [(b"fmt ", fmt)]
    if tag != 1:
        chunks = [(b"fmt ", fmt + b"\x00\x00"), (b"fact", struct.pack("<I", frames))]
    chunks.append((b"data", data))
    body = b"".join(name + struct.pack("<I", len(payload)) + payload for name, payload in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def mp3_silence(seconds: float, bit_rate: int) -> bytes:
    frames = math.ceil(seconds * MP3_SAMPLE_RATE / _MP3_SAMPLES_PER_FRAME)
    # Header: sync, MPEG-2, Layer III, no CRC | bitrate, 22,050 Hz, no padding | mono.
    header = bytes((0xFF, 0xF3, _MP3_BITRATE_INDEX[bit_rate] << 4, 0xC0))
    size = 72 * bit_rate // MP3_SAMPLE_RATE
    # All-zero side information and main data: every granule decodes to silence.
    return (header + bytes(size - len(header))) * frames


@dataclass(frozen=True, slots=True)
class WavInfo:
    encoding: str
    channels: int
    sample_rate: int
    seconds: float


def read_wav(data: bytes) -> WavInfo | None:
    """The format and length of a WAV file; None when `data` is not one this module knows."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    fmt: tuple[int, ...] | None = None
    at = 12
    while at + 8 <= len(data):
        name, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        payload = data[at + 8 : at + 8 + size]
        if name == b"fmt " and size >= 16:
            fmt = struct.unpack("<HHIIHH", payload[:16])
        elif name == b"data" and fmt is not None and fmt[0] in _TAGS and fmt[3]:
            tag, channels, rate, byte_rate, _, _ = fmt
            return WavInfo(_TAGS[tag], channels, rate, len(payload) / byte_rate)
        at += 8 + size + size % 2  # chunks are padded to an even length
    return None
