"""GET /openapi.json: an OpenAPI 3.0 document of the gateway's own HTTP surface.

Each route is one `Operation` in OPERATIONS: what it is for, the key it needs, its body and its
answer. The document is built from that table and from the running gateway, whose served models
become the `model` enums, so clients and fuzzers see the ids that answer here. Routes are
documented with the /v1 prefix; each also answers without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson
from aiohttp import web

from omnigate.catalog.loader import Catalog
from omnigate.gateway import GATEWAY
from omnigate.http.openapi_operations import OPERATIONS, Auth, Operation
from omnigate.http.openapi_requests import ref
from omnigate.http.openapi_schemas import COMPONENTS
from omnigate.routing.router import Router

# The `model` enum of each family: the catalogue types its endpoint accepts (api/*.py `accepted`).
MODEL_FAMILIES = {
    "ChatModel": ("chat-completion",),
    "ResponsesModel": ("chat-completion", "responses"),
    "EmbeddingModel": ("embedding",),
    "ImageModel": ("image",),
    "TtsModel": ("tts",),
    "SttModel": ("stt",),
    "DocumentModel": ("document",),
    "VideoModel": ("video",),
    "MusicModel": ("audio",),
}

_SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    "none": [],
    "key": [{"bearer": []}],
    "admin": [{"bearer": []}],
    "anthropic": [{"bearer": []}, {"anthropicKey": []}],
}
_KEY_ERRORS: dict[Auth, tuple[int, ...]] = {
    "none": (),
    "key": (401,),
    "admin": (401, 403),
    "anthropic": (401,),
}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def build_document(served: dict[str, list[str]]) -> dict[str, Any]:
    """The document, with `served` giving each family's model ids (MODEL_FAMILIES)."""
    schemas = {**COMPONENTS}
    for family in MODEL_FAMILIES:
        ids = served.get(family) or []
        # An empty enum is not a valid schema: with nothing served, any id is "valid" and 503s.
        schemas[family] = {"type": "string", "enum": ids} if ids else {"type": "string"}
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Omnigate",
            "version": "1",
            "description": "An OpenAI-compatible gateway. Every /v1 route also answers without /v1.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An og- API key"},
                "anthropicKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


def _operation(method: str, path: str, op: Operation) -> dict[str, Any]:
    error_schema = ref("AnthropicError" if op.auth == "anthropic" else "Error")
    answer: dict[str, Any] = {op.answer_type: {"schema": ref(op.answer)}}
    if op.streams:
        answer["text/event-stream"] = {"schema": ref("EventStream")}
    for content_type, schema in op.also:
        answer[content_type] = {"schema": ref(schema)}
    responses: dict[str, Any] = {str(op.status): {"description": op.summary, "content": answer}}
    for status in op.same_body:
        responses[str(status)] = {"description": op.summary, "content": answer}
    for status in sorted({*_KEY_ERRORS[op.auth], *op.errors}):
        responses[str(status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": error_schema}},
        }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAMETER.findall(path)
    ]
    out: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"\W+", "_", path).rstrip("_"),
        "summary": op.summary + (" (admin key)" if op.auth == "admin" else ""),
        "tags": [op.tag],
        "security": _SECURITY[op.auth],
        "responses": responses,
    }
    if parameters or op.parameters:
        out["parameters"] = [*parameters, *op.parameters]
    if op.body is not None:
        kind = "multipart/form-data" if op.form else "application/json"
        out["requestBody"] = {"required": True, "content": {kind: {"schema": ref(op.body)}}}
    return out


def served_models(catalog: Catalog, router: Router, types: Iterable[str]) -> list[str]:
    """Ids of the catalogue models of these types that have a deployment here."""
    wanted = set(types)
    return [m.id for m in catalog.models if m.type in wanted and router.deployments(m)]


@cache
def _rendered(catalog: Catalog, router: Router) -> bytes:
    served = {family: served_models(catalog, router, types) for family, types in MODEL_FAMILIES.items()}
    return orjson.dumps(build_document(served))


async def openapi_json(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    return web.Response(body=_rendered(gw.catalog, gw.router), content_type="application/json")
