"""POST /v1/embeddings: OpenAI's embeddings API, for local and upstream embedding models."""

from __future__ import annotations

from typing import cast

import orjson
from aiohttp import web

from omnigate.api.call import begin_call
from omnigate.gateway import GATEWAY
from omnigate.providers.base import EmbeddingBackend
from omnigate.routing.router import Deployment


async def embeddings(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    call = await begin_call(
        request, accepted=("embedding",), endpoint="/v1/embeddings", generates_tokens=False
    )
    try:

        async def send_one(deployment: Deployment) -> dict:
            # Embedding models route only to backends that embed (local engines, OpenAI-style).
            backend = cast(EmbeddingBackend, deployment.backend)
            return await backend.embed(call.forward_body(deployment), account_id=call.key.account_id)

        result = await call.attempt(send_one)
        usage = result.get("usage") or call.estimated_usage(0)
        charged = await call.settle(usage)
        result["model"] = call.served_model
        result["meta"] = {"usage": {"tokens_used": charged}}
        return web.Response(body=orjson.dumps(result), headers=call.headers())
    finally:
        await gw.book.release(call.reservation)
