"""Asynchronous generations: video, music and speech to text, created here and polled here.

Creating one takes the request pipeline (api/pipeline.py) up to the upstream's acceptance: the
key, the model's rules, the worst case held, the deployments tried in order. A deployment with a
task API (providers/tasks.py) starts the upstream's task at once; one without (a synchronous
transcriber, a local engine) leaves the job to the task runner. Then, in this order:

1. the task is written to the database, so that it outlives this process;
2. the worst case (or what the upstream charged for it) is charged with the ledger entry id
   `task:<uuid>:charge`;
3. the task records that charge, and the client gets the task's id.

The runner (tasks/runner.py) ends the task and gives back what it did not cost, once. A process
that dies between 1 and 3 leaves a task the runner settles from the ledger (or drops, uncharged).

Polls read the database and nudge this process's runner; a task belongs to the account that
created it, and any other gets 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson
from aiohttp import web

from omnigate.api.common import in_db as _db
from omnigate.api.media import begin_media
from omnigate.api.pipeline import Call, Family
from omnigate.api.transcription import audio_estimate
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, bad_request, not_found
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.providers.media import MediaJob, Upload
from omnigate.providers.tasks import Submitted, TaskBackend
from omnigate.routing.router import Deployment
from omnigate.settings_tables import megabytes
from omnigate.store.tasks import FINAL, TaskInput, TaskRow, charge_entry_id
from omnigate.tasks.artifacts import absolute_urls

VIDEO = Family("/v2/video/generations", ("video",), media="video")
MUSIC = Family("/v2/generate/audio", ("audio",), media="music")
STT = Family("/v1/stt/create", ("stt",), media="stt")
# The service's older per-vendor video routes, each for its vendor's models only (the models'
# `endpoints` in /models say which), and Luma's, for the luma/* models.
VIDEO_VENDORS = ("kling", "google", "alibaba", "bytedance", "runway", "pixverse", "minimax", "luma-ai")
VIDEO_ALIASES = ("/v1/video/generations", "/video/generations")
# Lengths assumed when neither the body nor the model's rules bound them (seconds).
DEFAULT_VIDEO_S = 10.0
DEFAULT_MUSIC_S = 300.0


# -- creating -----------------------------------------------------------------------------------
async def create_video(request: web.Request) -> web.Response:
    return await _create(request, VIDEO, _video_estimate)


def vendor_video_route(vendor: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /v2/generate/video/<vendor>/generation: the unified route for that vendor's models."""
    path = f"/v2/generate/video/{vendor}/generation"
    family = Family(path, ("video",), media="video")

    def only_theirs(model: Model, body: dict) -> None:
        theirs = path in model.endpoints or (vendor == "luma-ai" and model.id.startswith("luma/"))
        if not theirs:
            where = " and ".join(model.endpoints) or "/v2/video/generations"
            raise bad_request(
                f"The model {model.id!r} is not served by {path}; use {where}.",
                param="model",
                code="model_type_mismatch",
            )

    async def create(request: web.Request) -> web.Response:
        return await _create(request, family, _video_estimate, check=only_theirs)

    return create


async def create_music(request: web.Request) -> web.Response:
    return await _create(request, MUSIC, _music_estimate)


async def create_stt(request: web.Request) -> web.Response:
    settings = request.app[GATEWAY].settings
    return await _create(request, STT, audio_estimate(settings.billing.max_audio_seconds))


async def _create(
    request: web.Request,
    family: Family,
    estimate: Callable[[Model, dict, list[Upload], int], Used],
    *,
    check: Callable[[Model, dict], None] | None = None,
) -> web.Response:
    gw = request.app[GATEWAY]
    files = {"audio": megabytes(gw.settings.server.max_audio_mb)} if family is STT else None
    call, uploads = await begin_media(request, family, estimate, files=files, check=check)
    try:
        task_family = cast(str, family.media)
        extra = _route_fields(call, family, uploads)
        task_uuid = str(uuid.uuid4())
        # The service names speech-to-text tasks by a bare uuid; the others carry their model.
        task_id = task_uuid if family is STT else f"{task_uuid}:{call.model.id}"

        async def send_one(deployment: Deployment) -> tuple[dict, Submitted | None]:
            body = {**call.forward_body(deployment), **extra}
            backend = deployment.backend
            if task_family not in backend.task_families:
                return body, None  # the runner runs the job
            job = MediaJob(task_family, body, uploads, gw.fetcher.fetch)
            return body, await cast(TaskBackend, backend).submit_task(task_family, job)

        body, submitted = await call.attempt(send_one)
        assert call.deployment is not None
        await _store(gw, call, task_id, task_family, body, submitted, uploads)
        charged = await call.settle(
            estimate(call.model, call.body, uploads, call.body_size),
            upstream_credits=submitted.upstream_credits if submitted else None,
            note=f"task {task_id}: charged at creation; what it does not use is refunded when it ends",
            entry_id=charge_entry_id(task_uuid),
        )
        await _db(gw.db.set_task_charged, task_id, charged)
        gw.runner.nudge()
        if family is STT:
            return web.Response(
                body=orjson.dumps({"generation_id": task_id}), status=201, headers=call.headers()
            )
        status = submitted.status if submitted else "queued"
        answer = {"id": task_id, "status": status, "meta": {"usage": {"tokens_used": charged}}}
        return web.Response(body=orjson.dumps(answer), headers=call.headers())
    finally:
        await call.release()


def _route_fields(call: Call, family: Family, uploads: list[Upload]) -> dict:
    """Fields of the route the models' rules do not name: a speech-to-text task's audio URL."""
    if family is not STT:
        return {}
    url = call.body.get("url")
    if not uploads and not isinstance(url, str):
        raise bad_request(f"{BODY_VALIDATION} audio: Required (a file, or a JSON `url`)", param="audio")
    return {"url": url} if isinstance(url, str) else {}


async def _store(
    gw: Gateway,
    call: Call,
    task_id: str,
    family: str,
    body: dict,
    submitted: Submitted | None,
    uploads: list[Upload],
) -> None:
    deployment = cast(Deployment, call.deployment)
    await _db(
        gw.db.insert_task,
        task_id=task_id,
        account_id=call.key.account_id,
        key_prefix=call.key.prefix,
        family=family,
        model=call.model.id,
        request_id=call.request_id,
        status=submitted.status if submitted else "queued",
        body=orjson.dumps(body).decode(),
        provider=deployment.backend.name,
        upstream_model=deployment.upstream_model,
        upstream_id=submitted.upstream_id if submitted else None,
        first_poll_s=gw.settings.tasks.poll_min_s if submitted else 0.0,
        # Files go with a job the runner runs itself; an upstream task has them already.
        inputs=()
        if submitted
        else tuple(TaskInput(u.field, u.filename, u.content_type, u.data) for u in uploads),
    )


# -- worst cases ----------------------------------------------------------------------------------
def _video_estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
    return Used(seconds=_length(model, body, "duration", 1.0) or DEFAULT_VIDEO_S)


def _music_estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
    seconds = (
        _length(model, body, "music_length_ms", 0.001)
        or _length(model, body, "seconds_total", 1.0)
        or _length(model, body, "duration", 1.0)
    )
    return Used(seconds=seconds or DEFAULT_MUSIC_S)


def _length(model: Model, body: dict, name: str, scale: float) -> float:
    """A length field in seconds: the body's value, else the rule's default, else its largest
    allowed value; 0 when the model has no such field."""
    value = _number(body.get(name))
    if value is None:
        rule = ((model.rules or {}).get("properties") or {}).get(name) or {}
        options = [_number(v) for v in [rule.get("default"), *(rule.get("enum") or ()), rule.get("maximum")]]
        found = [v for v in options if v is not None]
        value = _number(rule.get("default")) or (max(found) if found else None)
    return value * scale if value else 0.0


def _number(value: object) -> float | None:
    """5, 5.0, "5" and Luma's "5s" alike."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        try:
            number = float(value.removesuffix("s"))
        except ValueError:
            return None
        return number if number > 0 else None
    return None


# -- polling --------------------------------------------------------------------------------------
async def poll_video(request: web.Request) -> web.Response:
    return await _poll(request, "video", request.query.get("generation_id"))


async def poll_music(request: web.Request) -> web.Response:
    return await _poll(request, "music", request.query.get("generation_id"))


async def poll_stt(request: web.Request) -> web.Response:
    return await _poll(request, "stt", request.match_info["generation_id"])


async def _poll(request: web.Request, family: str, task_id: str | None) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    if not task_id:
        raise bad_request(f"{BODY_VALIDATION} generation_id: Required", param="generation_id")
    task = await _db(gw.db.task, task_id)
    # Another account's task is answered as a missing one: ids must not leak what exists.
    if task is None or task.account_id != key.account_id or task.family != family:
        raise not_found(f"Generation {task_id!r} was not found.", param="generation_id")
    if task.status not in FINAL:
        gw.runner.nudge()
    origin = gw.settings.server.public_url or str(request.url.origin())
    return web.Response(
        body=orjson.dumps(task_answer(task, origin)),
        headers={"Content-Type": "application/json", "X-Request-Id": request[REQUEST_ID]},
    )


def task_answer(task: TaskRow, origin: str) -> dict:
    """A task as its family's poll answers it."""
    result = absolute_urls(orjson.loads(task.result), task.family, origin) if task.result else None
    error = {"name": "GenerationError", "message": task.error} if task.error else None
    if task.family == "stt":
        return {"id": task.id, "status": task.status, "result": result, "error": error}
    charged = (task.charged or 0) - (task.refunded or 0)
    answer: dict[str, Any] = {"id": task.id, "status": task.status}
    if task.family == "video":
        answer["video"] = (result or {}).get("video")
        answer["duration"] = (result or {}).get("duration")
    else:
        answer["audio_file"] = (result or {}).get("audio_file")
    answer["error"] = error
    answer["meta"] = {"usage": {"tokens_used": charged}}
    return answer
