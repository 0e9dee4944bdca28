"""POST /vision: Google Cloud Vision's feature detection (labels, text, faces, ...), as the service
offers it. Its requests name no model, so they go to the upstreams that serve the family (kind
"aimlapi"), in config order, and cost what the upstream bills times its markup."""

from __future__ import annotations

import math
import time

import orjson
from aiohttp import web

from omnigate.api.common import read_json
from omnigate.billing.book import Usage
from omnigate.billing.charge import hold
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.gateway import GATEWAY, REQUEST_ID
from omnigate.http.scopes import require_scope
from omnigate.providers.media import MediaJob, MediaResult
from omnigate.routing.attempts import attempt
from omnigate.routing.router import Deployment

ENDPOINT = "/vision"


async def vision(request: web.Request) -> web.Response:
    started = time.perf_counter()
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    require_scope(key, ENDPOINT)
    body, _ = await read_json(request)
    _check(body)
    plan = [
        Deployment(p, ENDPOINT, f"{p.name}:vision")
        for p in gw.providers.values()
        if "vision" in p.media_families
    ]
    if not plan:
        raise ApiError(
            503,
            'Service unavailable: no upstream serves /vision; add a provider with kind = "aimlapi".',
            code="model_not_configured",
        )
    request_id = request[REQUEST_ID]
    reservation = await hold(gw.book, key, max(d.backend.reserve_credits for d in plan))
    try:
        answered = await attempt(
            plan,
            lambda d: d.backend.run_media(MediaJob("vision", body)),
            health=gw.router.health,
            routing=gw.settings.routing,
            request_id=request_id,
        )
        result: MediaResult = answered.result
        billed = result.upstream_credits if result.upstream_credits is not None else reservation.amount
        cost = math.ceil(billed * (answered.deployment.backend.markup or 1.0))
        usage = Usage(key.prefix, "vision", request_id, None, None)
        charged = await gw.book.settle(reservation, cost, usage)
        answer = {**(result.body or {}), "meta": {"usage": {"tokens_used": charged}}}
        overhead = (time.perf_counter() - started - answered.upstream_seconds) * 1000
        headers = {"X-Request-Id": request_id, "X-Omnigate-Overhead-Ms": f"{overhead:.3f}"}
        return web.Response(body=orjson.dumps(answer), content_type="application/json", headers=headers)
    finally:
        await gw.book.release(reservation)


def _check(body: dict) -> None:
    """Google's request: an `image` with a `source.imageUri` or base64 `content`, and `features`."""
    image = body.get("image")
    source = image.get("source") if isinstance(image, dict) else None
    has_uri = isinstance(source, dict) and isinstance(source.get("imageUri"), str)
    if not isinstance(image, dict) or not (has_uri or isinstance(image.get("content"), str)):
        raise bad_request(
            f"{BODY_VALIDATION} image: Expected {{source: {{imageUri}}}} or {{content}}", param="image"
        )
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise bad_request(f"{BODY_VALIDATION} features: Expected a non-empty array", param="features")
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("type"), str):
            raise bad_request(
                f"{BODY_VALIDATION} features[{index}].type: Required", param=f"features[{index}].type"
            )
