"""GET /models (the service's own shape) and GET /v1/models (the same items, also OpenAI `Model`s).

No key is needed. The catalogue does not change while a server runs, so both bodies are rendered
once and served as bytes.
"""

from __future__ import annotations

from functools import cache

import orjson
from aiohttp import web

from omnigate.catalog.loader import Catalog, Model
from omnigate.gateway import GATEWAY

# A fixed `created` stamp: catalogue entries have no creation date, and a stable value keeps
# the listing cacheable. 2024-01-01T00:00:00Z.
CATALOGUE_EPOCH = 1704067200


def model_item(model: Model, *, openai: bool) -> dict:
    info: dict = {
        "name": model.name,
        "developer": model.developer,
        "description": model.description,
        "contextLength": model.context_length,
        "maxTokens": model.max_output_tokens,
        "url": model.url,
        "docs_url": model.docs_url,
    }
    item: dict = {
        "id": model.id,
        "type": model.type,
        "info": info,
        "features": list(model.features),
        "endpoints": list(model.endpoints),
    }
    if model.local:
        item["local"] = True
    if openai:
        item["object"] = "model"
        item["created"] = CATALOGUE_EPOCH
        item["owned_by"] = model.developer or "omnigate"
    return item


@cache
def _rendered(catalog: Catalog, openai: bool) -> bytes:
    items = [model_item(m, openai=openai) for m in catalog.models]
    return orjson.dumps({"object": "list", "data": items})


async def list_models(request: web.Request) -> web.Response:
    catalog = request.app[GATEWAY].catalog
    return web.Response(body=_rendered(catalog, False), content_type="application/json")


async def list_models_openai(request: web.Request) -> web.Response:
    catalog = request.app[GATEWAY].catalog
    return web.Response(body=_rendered(catalog, True), content_type="application/json")


async def model_metrics(request: web.Request) -> web.Response:
    """GET /models/metrics (no key): latency and speed per model, measured here
    (telemetry/model_metrics.py)."""
    answer = await request.app[GATEWAY].model_metrics.current()
    return web.Response(body=orjson.dumps(answer), content_type="application/json")
