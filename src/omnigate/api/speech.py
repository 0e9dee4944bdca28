"""Text to speech: the service's POST /v1/tts and OpenAI's POST /v1/audio/speech.

/v1/tts answers JSON with the audio's URL (`{"audio": {"url": ...}, "meta": ...}`) by default, as
the service does, and the audio itself for the families whose samples stream it (Deepgram,
ElevenLabs, MiniMax, VibeVoice) or when `stream` is true. /v1/audio/speech always answers the
audio, as OpenAI's SDK expects. Whatever the upstream returned (bytes or a URL) is turned into
what the route promises: bytes become a URL the gateway serves itself; a URL is fetched.
"""

from __future__ import annotations

from aiohttp import web

from omnigate.api.media import begin_media, json_answer, run_media, settle_media, with_meta
from omnigate.api.pipeline import Call, Family
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.errors import ApiError
from omnigate.http.files import absolute
from omnigate.providers.media import MediaResult, Upload

TTS = Family("/v1/tts", ("tts",), media="tts")
SPEECH = Family("/v1/audio/speech", ("tts",), media="tts")
# The models whose /v1/tts answer is the audio itself (the service's docs stream it to a file).
_BYTES_BY_DEFAULT = ("#g1_aura", "elevenlabs/", "minimax/speech", "microsoft/vibevoice")
# Speech runs at about 15 characters a second; a third of that bounds what a text can last.
_MIN_CHARACTERS_PER_SECOND = 5


async def tts(request: web.Request) -> web.StreamResponse:
    call, uploads = await begin_media(request, TTS, _estimate)
    try:
        result = await run_media(call, "tts", uploads)
        charged = await settle_media(call, result)
        if call.body.get("stream") is True or call.model.id.startswith(_BYTES_BY_DEFAULT):
            return await _audio(call, result, charged)
        return json_answer(call, with_meta({"audio": {"url": await _url(call, result)}}, charged))
    finally:
        await call.release()


async def audio_speech(request: web.Request) -> web.StreamResponse:
    call, uploads = await begin_media(request, SPEECH, _estimate, prepare=_from_openai)
    try:
        result = await run_media(call, "tts", uploads)
        return await _audio(call, result, await settle_media(call, result))
    finally:
        await call.release()


def _from_openai(body: dict) -> None:
    """OpenAI's `input` is the service's `text`; its `instructions` the service's `style`."""
    if "input" in body and "text" not in body:
        body["text"] = body.pop("input")
    if "instructions" in body and "style" not in body:
        body["style"] = body.pop("instructions")


def _estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
    text = body.get("text") or body.get("script") or ""
    characters = len(text) if isinstance(text, str) else size
    return Used(characters=characters, seconds=characters / _MIN_CHARACTERS_PER_SECOND + 1)


async def _audio(call: Call, result: MediaResult, charged: int) -> web.Response:
    if result.audio is not None:
        audio, content_type = result.audio, result.content_type or "application/octet-stream"
    else:
        fetched = await call.gw.fetcher.fetch(_upstream_url(result), "audio.url", trusted=True)
        audio, content_type = fetched.data, fetched.content_type
    headers = call.headers(content_type)
    headers["X-Credits-Used"] = str(charged)  # a binary answer has no body to say it in
    return web.Response(body=audio, headers=headers)


async def _url(call: Call, result: MediaResult) -> str:
    if result.audio is None:
        return _upstream_url(result)
    url = await call.gw.files.put(result.audio, result.content_type or "application/octet-stream")
    return absolute(url, call.gw.settings.server.public_url or str(call.http_request.url.origin()))


def _upstream_url(result: MediaResult) -> str:
    audio = (result.body or {}).get("audio")
    url = audio.get("url") if isinstance(audio, dict) else audio
    if not isinstance(url, str):
        raise ApiError(
            502, "Bad Gateway: the upstream answered with neither audio nor its URL.", code="upstream_invalid"
        )
    return url
