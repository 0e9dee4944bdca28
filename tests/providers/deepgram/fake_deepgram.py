"""A local fake of Deepgram's pre-recorded speech API, checked against the official SDK.

`POST /v1/speak` answers real audio: silence of `audio.SECONDS_PER_CHARACTER` a character, as a
WAV file (linear16, mulaw, alaw), headerless samples (`container=none`) or MP3 frames, with the
Content-Type of each. `POST /v1/listen` hears a WAV upload (its header gives the duration) or
`{"url"}` (lasting `url_seconds`) and answers a transcript of `words`, spread evenly over that
duration. Options it acts on: punctuate / smart_format (capital and full stop), diarize (speaker
labels), detect_language, multichannel (a channel per WAV channel) and tag.

Every query is checked against the SDK's parameters and every JSON payload against its types
(fidelity.py); a failed check is recorded in `fidelity_errors` and answered with a 400. Error
bodies are Deepgram's two dialects; their words are the fake's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from tests.providers.deepgram import audio
from tests.providers.deepgram.fidelity import (
    SPEAK_MODELS,
    FidelityError,
    check_error,
    check_listen_query,
    check_speak_query,
    check_transcript,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Per encoding: the containers, the sample rates (the first is the default) and the type sent.
_SPEECH = {
    "linear16": (("wav", "none"), (24_000, 8_000, 16_000, 32_000, 48_000)),
    "mulaw": (("wav", "none"), (8_000, 16_000)),
    "alaw": (("wav", "none"), (8_000, 16_000)),
    "mp3": (("none",), (audio.MP3_SAMPLE_RATE,)),
}
# The fake's own type for headerless samples.
RAW_TYPE = "application/octet-stream"
MODEL_UUID = "1dbdfb4d-85b2-4659-9c96-1c3bdf4e4d1e"


@dataclass
class Seen:
    """One request as the fake received it."""

    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


class FakeDeepgram:
    def __init__(self, *, api_key: str = "dg-test-3f9a1c7e5b20", host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self.host = host
        self.requests: list[Seen] = []
        # Items: an HTTP status (answered with an error body) or "hang" (sleep hang_seconds,
        # then answer as usual).
        self.fail_next: list[int | str] = []
        self.error_message: str | None = None  # replaces the fake's words in the next errors
        self.modern_errors = False  # answer errors in the `category`/`message` dialect
        self.retry_after = "3"
        self.hang_seconds = 5.0
        self.words = "hello from the fake deepgram"
        self.url_seconds = 7.5
        self.fidelity_errors: list[str] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/speak", self._speak)
        app.router.add_post("/v1/listen", self._listen)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, the API root (the SDK and the adapter add /v1/...)."""
        return f"http://{self.host}:{self._port}"

    # -- plumbing -------------------------------------------------------------------------

    def error(self, status: int, code: str, message: str) -> web.Response:
        words = self.error_message or message
        request_id = str(uuid.uuid4())
        body = (
            {"category": code, "message": words, "request_id": request_id}
            if self.modern_errors
            else {"err_code": code, "err_msg": words, "request_id": request_id}
        )
        headers = {"Retry-After": self.retry_after} if status == 429 else None
        return web.json_response(check_error(body), status=status, headers=headers, dumps=_dumps)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Seen(
                request.path,
                list(request.query.items()),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        action = self.fail_next.pop(0) if self.fail_next else None
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
        elif isinstance(action, int):
            return self.error(action, _CODES.get(action, "ERROR"), f"fake failure {action}")
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            return self.error(401, "INVALID_AUTH", "Invalid credentials.")
        try:
            return await handler(request)
        except FidelityError as exc:
            self.fidelity_errors.append(str(exc))
            return self.error(400, "INVALID_QUERY_PARAMETER", f"fake fidelity check failed: {exc}")

    # -- text to speech -------------------------------------------------------------------

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        params = check_speak_query(list(request.query.items()))
        raw = await request.read()  # read once already; aiohttp keeps it
        body = _json(raw) if request.content_type == "application/json" else None
        if not isinstance(body, dict) or set(body) != {"text"} or not isinstance(body["text"], str):
            raise FidelityError(f'/v1/speak takes {{"text": ...}} as JSON, got {raw[:200]!r}')
        text = body["text"]
        model = _one(params, "model") or "aura-asteria-en"
        if model not in SPEAK_MODELS:
            return self.error(400, "INVALID_QUERY_PARAMETER", f"No such voice: {model}")
        encoding = _one(params, "encoding") or "linear16"
        if encoding not in _SPEECH:
            return self.error(400, "UNSUPPORTED", f"The fake makes no {encoding} audio.")
        containers, rates = _SPEECH[encoding]
        container = _one(params, "container") or containers[0]
        rate = float(_one(params, "sample_rate") or rates[0])
        if container not in containers or rate not in rates:
            return self.error(
                400,
                "INVALID_QUERY_PARAMETER",
                f"{encoding} audio has no {container} container at {rate:g} Hz.",
            )
        bit_rate = int(float(_one(params, "bit_rate") or audio.MP3_BIT_RATES[-1]))
        if encoding == "mp3" and bit_rate not in audio.MP3_BIT_RATES:
            return self.error(400, "INVALID_QUERY_PARAMETER", f"mp3 audio has no bit rate {bit_rate}.")
        data, content_type = _speech(encoding, container, int(rate), bit_rate, audio.speech_seconds(text))
        headers = {"dg-request-id": str(uuid.uuid4()), "dg-char-count": str(len(text))}
        return web.Response(body=data, content_type=content_type, headers=headers)

    # -- speech to text -------------------------------------------------------------------

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        params = check_listen_query(list(request.query.items()))
        raw = await request.read()
        if request.content_type == "application/json":
            body = _json(raw)
            if not isinstance(body, dict) or set(body) != {"url"} or not isinstance(body["url"], str):
                raise FidelityError(f'/v1/listen takes {{"url": ...}} as JSON, got {raw[:200]!r}')
            seconds, channels = self.url_seconds, 1
        else:
            heard = audio.read_wav(raw)
            if heard is None:
                return self.error(
                    400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data"
                )
            seconds, channels = heard.seconds, heard.channels
        if not _flag(params, "multichannel"):
            channels = 1
        return web.json_response(
            check_transcript(self._transcript(params, raw, seconds, channels)), dumps=_dumps
        )

    def _transcript(
        self, params: dict[str, list[str]], raw: bytes, seconds: float, channels: int
    ) -> dict[str, Any]:
        words = self.words.split()
        step = seconds / max(len(words), 1)
        listed: list[dict[str, Any]] = []
        for i, word in enumerate(words):
            item: dict[str, Any] = {
                "word": word,
                "start": round(i * step, 3),
                "end": round((i + 1) * step, 3),
                "confidence": 0.98,
            }
            if _flag(params, "diarize"):
                item |= {"speaker": 0, "speaker_confidence": 0.9}
            listed.append(item)
        text = " ".join(words)
        if text and (_flag(params, "punctuate") or _flag(params, "smart_format")):
            text = text[0].upper() + text[1:] + "."
        channel: dict[str, Any] = {
            "alternatives": [{"transcript": text, "confidence": 0.98, "words": listed}]
        }
        if _flag(params, "detect_language"):
            channel["detected_language"] = "en"
        metadata: dict[str, Any] = {
            "transaction_key": "deprecated",
            "request_id": str(uuid.uuid4()),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "duration": seconds,
            "channels": channels,
            "models": [MODEL_UUID],
            "model_info": {
                MODEL_UUID: {
                    "name": _one(params, "model") or "general",
                    "version": "2024-01-09.29447",
                    "arch": "nova-2",
                }
            },
        }
        if params.get("tag"):
            metadata["tags"] = params["tag"]
        return {"metadata": metadata, "results": {"channels": [channel] * channels}}


_CODES = {
    401: "INVALID_AUTH",
    402: "ASR_PAYMENT_REQUIRED",
    403: "INSUFFICIENT_PERMISSIONS",
    429: "TOO_MANY_REQUESTS",
}


def _speech(encoding: str, container: str, rate: int, bit_rate: int, seconds: float) -> tuple[bytes, str]:
    if encoding == "mp3":
        return audio.mp3_silence(seconds, bit_rate), "audio/mpeg"
    if container == "wav":
        return audio.wav(encoding, rate, seconds), "audio/wav"
    return audio.pcm_silence(encoding, rate, seconds), RAW_TYPE


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _flag(params: dict[str, list[str]], name: str) -> bool:
    return _one(params, name) == "true"


def _json(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
