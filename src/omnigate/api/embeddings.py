"""POST /v1/embeddings: OpenAI's embeddings API, for local and upstream embedding models."""

from __future__ import annotations

import time
from typing import cast

import orjson
from aiohttp import web

from omnigate.api.chat_call import EMBEDDINGS, begin_tokens, estimated_usage, settle_tokens
from omnigate.api.common import read_json
from omnigate.api.pipeline import Call
from omnigate.gateway import GATEWAY
from omnigate.providers.base import EmbeddingBackend
from omnigate.routing.router import Deployment


async def embeddings(request: web.Request) -> web.Response:
    started = time.perf_counter()
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    body, raw = await read_json(request)
    call = await begin_tokens(request, key, body, len(raw), started, family=EMBEDDINGS, generates=False)
    try:
        result = await embed(call)
        usage = result.get("usage") or estimated_usage(call, 0)
        charged = await settle_tokens(call, usage, result)
        result["meta"] = {"usage": {"tokens_used": charged}}
        return web.Response(body=orjson.dumps(result), headers=call.headers())
    finally:
        await call.release()


async def embed(call: Call) -> dict:
    """The embeddings of the first deployment that answers, named as the model that served them
    (a batch's requests take this path too); not yet charged."""

    async def send_one(deployment: Deployment) -> dict:
        # Embedding models route only to backends that embed (local engines, OpenAI-style).
        backend = cast(EmbeddingBackend, deployment.backend)
        return await backend.embed(call.forward_body(deployment), account_id=call.key.account_id)

    result = await call.attempt(send_one)
    result["model"] = call.served_model
    return result
