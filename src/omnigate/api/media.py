"""What the media families' handlers share: beginning a call on a JSON or multipart body, sending
it as a media job to each deployment in turn, and the answer's billing block."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import orjson
from aiohttp import web

from omnigate.api.common import validate
from omnigate.api.forms import coerce, read_body
from omnigate.api.pipeline import Call, Family, begin
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.gateway import GATEWAY
from omnigate.providers.media import MediaBackend, MediaJob, MediaResult, Upload
from omnigate.routing.router import Deployment


async def begin_media(
    request: web.Request,
    family: Family,
    estimate: Callable[[Model, dict, list[Upload], int], Used],
    *,
    files: dict[str, int] | None = None,
    prepare: Callable[[dict], None] | None = None,
    check: Callable[[Model, dict], None] | None = None,
    validate_with: Callable[[Model, dict], None] = validate,
) -> tuple[Call, list[Upload]]:
    """Authenticate, read the body (multipart when `files` names the file fields it may carry),
    then the pipeline's first steps. `prepare` adjusts the body before the model is resolved
    (OpenAI's field names for the service's, say); `check` refuses a model the route does not
    serve; `validate_with` replaces the model's rules (a route whose body they do not describe);
    `estimate` gets the files and the body size."""
    started = time.perf_counter()
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    body, uploads, size = await read_body(request, files or {})
    if prepare is not None:
        prepare(body)

    def checks(model: Model, body: dict) -> None:
        if check is not None:
            check(model, body)
        if uploads or request.content_type == "multipart/form-data":
            coerce(model, body)
            describe_uploads(model, body, uploads)

    def worst(model: Model, body: dict) -> Used:
        return estimate(model, body, uploads, size)

    call = await begin(
        request,
        key,
        body,
        family=family,
        estimate=worst,
        started=started,
        body_size=size,
        check=checks,
        validate_with=validate_with,
    )
    return call, uploads


def describe_uploads(model: Model, body: dict, uploads: list[Upload]) -> None:
    """The service's rules describe an uploaded file as the record its server makes of one
    (AssemblyAI's `audio`, say); such a record stands in the body for each file the rules name,
    so the same rules check both kinds of body. Jobs carry the files themselves (`run_media`)."""
    properties = (model.rules or {}).get("properties") or {}
    for upload in uploads:
        if (properties.get(upload.field) or {}).get("type") == "object":
            body[upload.field] = {
                "fieldname": upload.field,
                "originalname": upload.filename,
                "encoding": "7bit",
                "mimetype": upload.content_type,
                "size": len(upload.data),
            }


async def run_media(call: Call, family: str, uploads: list[Upload], extra: dict | None = None) -> MediaResult:
    """The result of the first deployment that serves the job. `extra`: fields of the route the
    model's rules do not name (an STT `url`), which `forward_body` would drop."""
    fetch = call.gw.fetcher.fetch
    files = {u.field for u in uploads}

    async def send_one(deployment: Deployment) -> MediaResult:
        forwarded = {k: v for k, v in call.forward_body(deployment).items() if k not in files}
        body = {**forwarded, **(extra or {})}
        backend = cast(MediaBackend, deployment.backend)
        job = MediaJob(family, body, uploads, fetch, call.key.account_id, _gone(call))
        return await backend.run_media(job)

    return await call.attempt(send_one)


def _gone(call: Call) -> Callable[[], bool] | None:
    """Whether the client of this call has left (aiohttp does not cancel its handler)."""
    request = call.request
    if request is None:
        return None
    return lambda: request.transport is None or request.transport.is_closing()


async def settle_media(call: Call, result: MediaResult) -> int:
    """Charge what the job used (or what the upstream billed); the credits charged."""
    return await call.settle(result.used, upstream_credits=result.upstream_credits, note=_note(result))


def _note(result: MediaResult) -> str | None:
    used = result.used
    parts = [
        f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in (
            ("images", used.images),
            ("seconds", used.seconds),
            ("characters", used.characters),
            ("pages", used.pages),
        )
        if value
    ]
    return ", ".join(parts) or None


def with_meta(answer: dict, charged: int) -> dict:
    answer["meta"] = {**(answer.get("meta") or {}), "usage": {"tokens_used": charged}}
    return answer


def json_answer(call: Call, answer: dict) -> web.Response:
    return web.Response(body=orjson.dumps(answer), headers=call.headers())
