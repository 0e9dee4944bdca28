"""Speech to text, synchronously: the service's legacy POST /v1/stt and OpenAI's POST
/v1/audio/transcriptions and /v1/audio/translations.

The audio comes as a file (multipart: `audio` for the service, `file` for OpenAI's SDK) or as a
JSON `url`. /v1/stt answers the transcript object as the upstream made it (Deepgram's shape for
the `#g1_*` models, AssemblyAI's for `aai/*`); OpenAI's routes answer in OpenAI's formats
(`json`, `text`, `verbose_json`, `srt`, `vtt`), made from that object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from omnigate.api.media import begin_media, json_answer, run_media, settle_media, with_meta
from omnigate.api.pipeline import Call, Family
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY
from omnigate.providers.media import MediaResult, Upload, audio_seconds
from omnigate.settings_tables import megabytes

STT = Family("/v1/stt", ("stt",), media="stt")
TRANSCRIPTIONS = Family("/v1/audio/transcriptions", ("stt",), media="stt")
TRANSLATIONS = Family("/v1/audio/translations", ("stt",), media="translate")
FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
# Compressed speech runs at 8 kbit/s and more: 1,000 bytes a second bounds a file's length.
_MIN_BYTES_PER_SECOND = 1000


async def stt(request: web.Request) -> web.Response:
    call, uploads = await _begin(request, STT)
    try:
        result = await run_media(call, "stt", uploads, _url_of(call))
        charged = await settle_media(call, result)
        return json_answer(call, with_meta(dict(result.body or {}), charged))
    finally:
        await call.release()


async def transcriptions(request: web.Request) -> web.Response:
    return await _openai(request, TRANSCRIPTIONS, task="transcribe")


async def translations(request: web.Request) -> web.Response:
    return await _openai(request, TRANSLATIONS, task="translate")


async def _openai(request: web.Request, family: Family, *, task: str) -> web.Response:
    call, uploads = await _begin(request, family)
    try:
        response_format = call.body.get("response_format", "json")
        if response_format not in FORMATS:
            raise bad_request(
                f"{BODY_VALIDATION} response_format: Expected one of {', '.join(FORMATS)}",
                param="response_format",
            )
        extra = {**_url_of(call), **({"translate": True} if task == "translate" else {})}
        result = await run_media(call, "stt", uploads, extra)
        charged = await settle_media(call, result)
        return _formatted(call, result, response_format, task, charged)
    finally:
        await call.release()


async def _begin(request: web.Request, family: Family) -> tuple[Call, list[Upload]]:
    settings = request.app[GATEWAY].settings
    limit = megabytes(settings.server.max_audio_mb)
    estimate = audio_estimate(settings.billing.max_audio_seconds)
    call, uploads = await begin_media(request, family, estimate, files={"audio": limit, "file": limit})
    # OpenAI's SDK sends the audio as `file`; the service and every adapter call it `audio`.
    uploads = [Upload("audio", u.filename, u.content_type, u.data) for u in uploads]
    if not uploads and not isinstance(call.body.get("url"), str):
        await call.release()
        raise bad_request(f"{BODY_VALIDATION} audio: Required (a file, or a JSON `url`)", param="audio")
    return call, uploads


def _url_of(call: Call) -> dict:
    """The audio's URL, a field of the route itself (the models' rules do not name it)."""
    url = call.body.get("url")
    return {"url": url} if isinstance(url, str) else {}


def audio_estimate(max_audio_seconds: int) -> Callable[[Model, dict, list[Upload], int], Used]:
    """The worst case of a request with audio: its file's length bounded by its size, or for a
    URL the configured bound."""

    def estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
        if uploads:
            return Used(seconds=sum(len(u.data) for u in uploads) / _MIN_BYTES_PER_SECOND + 1)
        # A URL's length is unknown until it is fetched: the configured bound.
        return Used(seconds=max_audio_seconds)

    return estimate


def _formatted(
    call: Call, result: MediaResult, response_format: str, task: str, charged: int
) -> web.Response:
    transcript = result.body or {}
    text, words = transcript_text(transcript)
    duration = audio_seconds(transcript) or result.used.seconds
    headers = call.headers(None)
    headers["X-Credits-Used"] = str(charged)
    if response_format == "text":
        return web.Response(text=text, content_type="text/plain", headers=headers)
    if response_format in ("srt", "vtt"):
        subtitles = _subtitles(text, words, duration, response_format)
        return web.Response(text=subtitles, content_type="text/plain", headers=headers)
    answer: dict[str, Any] = {"text": text}
    if response_format == "verbose_json":
        language = call.body.get("language") or ("english" if task == "translate" else None)
        answer = {
            "task": task,
            "language": language or "",
            "duration": duration,
            "text": text,
            "segments": [{"id": 0, "start": 0.0, "end": duration, "text": text}],
            "words": [{"word": w, "start": s, "end": e} for w, s, e in words],
        }
    headers["Content-Type"] = "application/json"
    return web.Response(body=orjson.dumps(with_meta(answer, charged)), headers=headers)


def transcript_text(transcript: dict) -> tuple[str, list[tuple[str, float, float]]]:
    """The text and timed words of a transcript object, whichever provider made it."""
    results = transcript.get("results")
    if isinstance(results, dict):
        channels = results.get("channels") or [{}]
        alternatives = (channels[0] or {}).get("alternatives") or [{}]
        best = alternatives[0] or {}
        words = [
            (
                str(w.get("punctuated_word") or w.get("word") or ""),
                _float(w.get("start")),
                _float(w.get("end")),
            )
            for w in best.get("words") or ()
            if isinstance(w, dict)
        ]
        return str(best.get("transcript") or ""), words
    words = [
        # AssemblyAI times words in milliseconds.
        (str(w.get("text") or ""), _float(w.get("start")) / 1000, _float(w.get("end")) / 1000)
        for w in transcript.get("words") or ()
        if isinstance(w, dict)
    ]
    return str(transcript.get("text") or ""), words


def _subtitles(text: str, words: list[tuple[str, float, float]], duration: float, kind: str) -> str:
    """Cues of up to ten words from the timed words, or one cue for the whole text."""
    cues = [
        (" ".join(w for w, _, _ in group), group[0][1], group[-1][2])
        for group in (words[i : i + 10] for i in range(0, len(words), 10))
    ] or [(text, 0.0, duration)]
    separator = "," if kind == "srt" else "."
    lines = ["WEBVTT", ""] if kind == "vtt" else []
    for number, (cue, start, end) in enumerate(cues, start=1):
        if kind == "srt":
            lines.append(str(number))
        lines += [f"{_stamp(start, separator)} --> {_stamp(end, separator)}", cue, ""]
    return "\n".join(lines)


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
