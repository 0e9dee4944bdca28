"""POST /v1/embeddings: OpenAI's embeddings API, for local and upstream embedding models."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from omnigate.api.chat_call import EMBEDDINGS, begin_tokens, embed_at, estimated_usage, settle_tokens
from omnigate.api.common import read_json
from omnigate.api.pipeline import Call
from omnigate.gateway import GATEWAY


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

    result = await call.attempt(lambda deployment: embed_at(call, deployment))
    result["model"] = call.served_model
    return result
