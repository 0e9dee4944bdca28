"""The HTTP application: routes to handlers, the error boundary, start-up and shutdown."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from omnigate.api import (
    admin,
    assistants,
    bagoodex,
    billing,
    chat,
    documents,
    embeddings,
    files,
    images,
    keys,
    messages,
    minimax_music,
    models,
    openai_batches,
    ops,
    responses,
    runs,
    speech,
    tasks,
    transcription,
    usage,
    vision,
)
from omnigate.errors import ApiError, render_error
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http import dashboard, openapi
from omnigate.http.cors import Cors
from omnigate.telemetry.record import RECORD, open_record

log = logging.getLogger(__name__)

# A caller may name its request (for tracing across systems). Otherwise the id is this process's
# random prefix and a counter: unique across processes, and cheaper than a uuid per request.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Each route answers with and without the /v1 prefix, as the service does.
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/chat/completions", chat.chat_completions),
    ("POST", "/embeddings", embeddings.embeddings),
    ("POST", "/images/generations", images.generations),
    ("POST", "/images/edits", images.edits),
    ("POST", "/tts", speech.tts),
    ("POST", "/audio/speech", speech.audio_speech),
    ("POST", "/stt", transcription.stt),
    ("POST", "/audio/transcriptions", transcription.transcriptions),
    ("POST", "/audio/translations", transcription.translations),
    ("POST", "/ocr", documents.ocr),
    ("POST", "/stt/create", tasks.create_stt),
    ("GET", "/stt/{generation_id}", tasks.poll_stt),
    ("POST", "/messages", messages.messages),
    ("POST", "/batches", openai_batches.create_batch),
    ("GET", "/batches", openai_batches.list_or_results),
    ("GET", "/batches/{batch_id}", openai_batches.retrieve),
    ("POST", "/batches/cancel/{batch_id}", openai_batches.cancel),
    ("POST", "/batches/{batch_id}/cancel", openai_batches.cancel),
    ("POST", "/files", files.upload_file),
    ("GET", "/files", files.list_files),
    ("DELETE", "/files/{file_id}", files.delete_file),
    ("GET", "/files/{file_id}/content", files.file_content),
    ("POST", "/responses", responses.create_response),
    ("GET", "/responses/{response_id}", responses.get_response),
    ("DELETE", "/responses/{response_id}", responses.delete_response),
    ("GET", "/responses/{response_id}/input_items", responses.list_input_items),
    ("GET", "/billing/balance", billing.balance),
    ("GET", "/admin/accounts", admin.list_accounts),
    ("POST", "/admin/accounts", admin.create_account),
    ("GET", "/admin/accounts/{name}", admin.show_account),
    ("PATCH", "/admin/accounts/{name}", admin.update_account),
    ("POST", "/admin/accounts/{name}/topup", admin.top_up),
    ("GET", "/admin/keys", admin.list_keys),
    ("POST", "/admin/keys", admin.create_key),
    ("PATCH", "/admin/keys/{prefix}", admin.update_key),
    ("POST", "/admin/keys/{prefix}/disable", admin.disable_key),
    ("POST", "/admin/keys/{prefix}/enable", admin.enable_key),
    ("GET", "/keys", keys.listing),
    ("POST", "/keys", keys.create),
    ("PATCH", "/keys/{prefix}", keys.update),
    ("DELETE", "/keys/{prefix}", keys.delete),
    ("GET", "/key", keys.own),
    *bagoodex.ROUTES,
    # Runs first: POST /threads/runs is not a thread named "runs".
    *runs.ROUTES,
    *assistants.ROUTES,
]


# The service's /v2 routes keep their prefix (no /v1 copy): usage, the request log, billing.
V2_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v2/usage", usage.usage),
    ("GET", "/v2/usage/detail", usage.usage_detail),
    ("GET", "/v2/logs", usage.logs),
    ("GET", "/v2/billing", billing.billing),
    ("GET", "/v2/billing/transactions", billing.transactions),
]


# Asynchronous generations: create with POST, poll with GET ?generation_id= (api/tasks.py).
TASK_ROUTES: list[tuple[str, Handler, Handler]] = [
    ("/v2/video/generations", tasks.create_video, tasks.poll_video),
    *(
        (f"/v2/generate/video/{vendor}/generation", tasks.vendor_video_route(vendor), tasks.poll_video)
        for vendor in tasks.VIDEO_VENDORS
    ),
    *((path, tasks.create_video, tasks.poll_video) for path in tasks.VIDEO_ALIASES),
    ("/v2/generate/audio", tasks.create_music, tasks.poll_music),
]


@web.middleware
async def error_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id and a record (telemetry/record.py), turn every failure into the
    dual error body, and hand the finished record to the observers."""
    client_id = request.headers.get("X-Client-Request-Id", "")
    request_id = (
        client_id if client_id and _CLIENT_ID.fullmatch(client_id) else f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"
    )
    request[REQUEST_ID] = request_id
    record = open_record(request, request_id)
    # A client that leaves before its answer is counted as nginx does (499, "client closed").
    record.status = 499
    gw = request.app[GATEWAY]
    gw.in_flight += 1
    try:
        response = await _answer(request, handler)
        record.status = response.status
        return response
    except web.HTTPException as exc:  # a redirect (errors are answered by _answer)
        record.status = exc.status
        raise
    finally:
        gw.in_flight -= 1
        record.duration_ms = (time.perf_counter() - record.started) * 1000
        for observer in gw.observers:
            observer.observe(record)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return _error_response(request, err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"Not found: no route {request.method} {request.path}."
        elif exc.status == 405:
            message = f"Method {request.method} is not allowed on {request.path}."
        else:
            message = exc.reason
        return _error_response(request, ApiError(exc.status, message))
    except Exception:
        log.exception("request %s failed", request[REQUEST_ID])
        return _error_response(request, ApiError(500, "Internal server error", code="internal_error"))


def _error_response(request: web.Request, err: ApiError) -> web.Response:
    request[RECORD].error_code = err.code or f"http_{err.status}"
    body = render_error(err, path=request.path, request_id=request[REQUEST_ID])
    headers = {"X-Request-Id": request[REQUEST_ID], **err.headers}
    return web.Response(body=body, status=err.status, content_type="application/json", headers=headers)


async def _serve_file(request: web.Request) -> web.StreamResponse:
    """GET /files/{name}: an uploaded file's object (with a key), or a file the gateway made itself
    (audio as a URL: no key, the unguessable name is the key)."""
    name = request.match_info["name"]
    if files.is_file_id(name):
        return await files.retrieve(request, name)
    return await request.app[GATEWAY].files.serve(request)


def create_app(gateway: Gateway) -> web.Application:
    app = web.Application(
        middlewares=[error_boundary], client_max_size=gateway.settings.server.max_body_bytes
    )
    app[GATEWAY] = gateway
    if gateway.tracing is not None:  # outermost: its span covers the whole request
        app.middlewares.insert(0, gateway.tracing.middleware)
    if gateway.settings.server.cors_origins:
        Cors(gateway.settings.server.cors_origins).install(app)
    # For load balancers, orchestrators and Prometheus: no key, no /v1.
    app.router.add_get("/health", ops.health)
    app.router.add_get("/ready", ops.ready)
    app.router.add_get("/metrics", ops.metrics)
    app.router.add_get("/models", models.list_models)
    app.router.add_get("/v1/models", models.list_models_openai)
    app.router.add_get("/models/metrics", models.model_metrics)
    # Model ids have slashes in them ("local/smollm2-135m-instruct").
    app.router.add_get("/model/{id:.+}", models.model_detail)
    app.router.add_get("/ui", dashboard.index)
    app.router.add_get("/ui/", dashboard.index)
    app.router.add_get("/ui/{name}", dashboard.asset)
    app.router.add_get("/openapi.json", openapi.openapi_json)
    app.router.add_get("/files/{name}", _serve_file)
    app.router.add_get("/v1/files/{file_id}", files.retrieve_file)
    # The service has these without /v1 only.
    app.router.add_post("/vision", vision.vision)
    app.router.add_post("/v2/generate/audio/minimax/upload", minimax_music.upload)
    app.router.add_post("/v2/generate/audio/minimax/generate", minimax_music.generate)
    for path, create, poll in TASK_ROUTES:
        app.router.add_post(path, create)
        app.router.add_get(path, poll)
    for method, path, handler in V2_ROUTES:
        app.router.add_route(method, path, handler)
    for method, path, handler in ROUTES:
        app.router.add_route(method, "/v1" + path, handler)
        app.router.add_route(method, path, handler)
    app.cleanup_ctx.append(_lifespan)
    return app


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    gateway = app[GATEWAY]
    await gateway.start()
    yield
    await gateway.stop()
