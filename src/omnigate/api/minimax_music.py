"""MiniMax music-01 on the service's own routes: upload a reference track, then make a song.

- POST /v2/generate/audio/minimax/upload: multipart `file` (a WAV or MP3) and `purpose` (`song`,
  `voice` or `instrumental`) → `{voice_id?, instrumental_id?, base_resp}`. Not a generation:
  nothing is charged unless the upstream bills it.
- POST /v2/generate/audio/minimax/generate: `{model: "music-01", refer_voice, refer_instrumental,
  lyrics}`, checked by music-01's rules → the song at once, as MiniMax answers it (`data.audio`
  is hex-encoded MP3).

Both take the request pipeline like every media route; the upload names no model, so it is
music-01's.
"""

from __future__ import annotations

from aiohttp import web

from omnigate.api.media import begin_media, json_answer, run_media, settle_media, with_meta
from omnigate.api.pipeline import Family
from omnigate.api.tasks import DEFAULT_MUSIC_S
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY
from omnigate.providers.media import Upload
from omnigate.settings_tables import megabytes

MODEL = "music-01"
UPLOAD = Family("/v2/generate/audio/minimax/upload", ("audio",), media="music-upload")
GENERATE = Family("/v2/generate/audio/minimax/generate", ("audio",), media="music-generate")
PURPOSES = ("song", "voice", "instrumental")


def _only_music_01(model: Model, body: dict) -> None:
    if model.id != MODEL:
        raise bad_request(
            f"The model {model.id!r} is not served by this route; it serves {MODEL!r} only.",
            param="model",
            code="model_type_mismatch",
        )


def _default_model(body: dict) -> None:
    body.setdefault("model", MODEL)


async def upload(request: web.Request) -> web.Response:
    limit = megabytes(request.app[GATEWAY].settings.server.max_audio_mb)

    def nothing(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
        return Used(requests=0)

    # music-01's rules describe the song request; the upload is checked here.
    call, uploads = await begin_media(
        request,
        UPLOAD,
        nothing,
        files={"file": limit},
        prepare=_default_model,
        check=_only_music_01,
        validate_with=lambda model, body: None,
    )
    try:
        if not any(u.field == "file" for u in uploads):
            raise bad_request(f"{BODY_VALIDATION} file: Required (a WAV or MP3 file)", param="file")
        purpose = call.body.get("purpose")
        if purpose not in PURPOSES:
            raise bad_request(
                f"{BODY_VALIDATION} purpose: Expected one of {', '.join(PURPOSES)}", param="purpose"
            )
        # The upload takes these fields and its file only (the song's rules name other fields).
        call.body = {"model": call.body["model"], "purpose": purpose}
        result = await run_media(call, "music-upload", uploads)
        # An upload the upstream does not say it billed costs nothing (not what was held).
        charged = await call.settle(result.used, upstream_credits=result.upstream_credits or 0)
        return json_answer(call, with_meta(dict(result.body or {}), charged))
    finally:
        await call.release()


async def generate(request: web.Request) -> web.Response:
    def song(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
        return Used(seconds=DEFAULT_MUSIC_S)

    call, uploads = await begin_media(request, GENERATE, song, check=_only_music_01)
    try:
        result = await run_media(call, "music-generate", uploads)
        charged = await settle_media(call, result)
        return json_answer(call, with_meta(dict(result.body or {}), charged))
    finally:
        await call.release()
