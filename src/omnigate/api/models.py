"""GET /models (the service's own shape), GET /v1/models (the same items, also OpenAI `Model`s)
and GET /model/{id} (one model with its rules, price and whether it is routed here).

No key is needed. The catalogue does not change while a server runs, so both bodies are rendered
once and served as bytes.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import orjson
from aiohttp import web

from omnigate.api.admin import json_response
from omnigate.catalog.loader import Catalog, Model, Price
from omnigate.errors import not_found
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
    return json_response(answer)


def price_view(price: Price | None) -> dict[str, float] | None:
    """The model's list (or operator) price in USD, only the units it has."""
    if price is None:
        return None
    return {name: value for name, value in dataclasses.asdict(price).items() if value is not None}


async def model_detail(request: web.Request) -> web.Response:
    """GET /model/{id} (no key): one model as in /models, with its parameter rules (the JSON
    Schema bodies are checked against), its price and whether this gateway routes it. The
    dashboard's Models page and Playground read it."""
    gw = request.app[GATEWAY]
    name = request.match_info["id"]
    model = gw.catalog.lookup(name)
    if model is None:
        raise not_found(f"Model {name!r} is not in the catalogue.")
    data = {
        **model_item(model, openai=False),
        "parameters": model.rules,
        "price": price_view(model.price),
        "routed": bool(gw.router.deployments(model)),
    }
    return json_response({"object": "model", "data": data})
