"""POST /v1/chat/completions: validate, reserve credits, forward, relay, settle."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from omnigate.api.chat_call import (
    CHAT,
    begin_tokens,
    complete_chat,
    estimated_usage,
    open_chat_stream,
    settle_tokens,
)
from omnigate.api.chat_stream import StreamTally, serve_stream, usage_chunk
from omnigate.api.common import read_json
from omnigate.api.pipeline import Call
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request, error_payload
from omnigate.gateway import GATEWAY
from omnigate.http.sse import DONE, encode_event, send
from omnigate.providers.base import ChunkStream, StreamBroken


async def chat_completions(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    body, raw = await read_json(request)
    call = await begin_tokens(request, key, body, len(raw), started, family=CHAT, check=require_messages)
    try:
        if call.body.get("stream") is True:
            return await _stream(call)
        return await _complete(call)
    finally:
        await call.release()


def require_messages(model: Model, body: dict) -> None:
    messages = body.get("messages")
    if messages is None:
        raise bad_request(f"{BODY_VALIDATION} messages: Required", param="messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(f"{BODY_VALIDATION} messages: Expected a non-empty array", param="messages")


async def _complete(call: Call) -> web.Response:
    completion = await complete_chat(call)
    usage = completion.get("usage") or estimated_usage(call, completion_chars(completion) // 4)
    charged = await settle_tokens(call, usage, completion)
    completion["model"] = call.served_model
    completion["meta"] = {"usage": {"tokens_used": charged}}
    return web.Response(body=orjson.dumps(completion), headers=call.headers())


def completion_chars(completion: dict) -> int:
    total = 0
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        total += len(message.get("content") or "")
        for tool_call in message.get("tool_calls") or ():
            total += len((tool_call.get("function") or {}).get("arguments") or "")
    return total


async def _stream(call: Call) -> web.StreamResponse:
    chunks = await open_chat_stream(call)
    tally = StreamTally()

    async def relay(response: web.StreamResponse) -> ApiError | None:
        return await _relay(call, chunks, response, tally)

    async def ending(failure: ApiError | None, usage: dict, charged: int) -> bytes:
        if failure is not None:
            payload = error_payload(failure, path=call.http_request.path, request_id=call.request_id)
            return encode_event(payload)
        final = usage_chunk(tally, model=call.served_model, usage=usage, tokens_used=charged)
        return encode_event(final) + DONE

    return await serve_stream(call, chunks, tally, call.headers(content_type=None), relay, ending)


async def _relay(
    call: Call, chunks: ChunkStream, response: web.StreamResponse, tally: StreamTally
) -> ApiError | None:
    """Copy chunks to the client; returns the error that ended the stream early, if any."""
    name = call.served_model
    first = True
    try:
        async for item in chunks:
            out = []
            for chunk in item if isinstance(item, list) else (item,):
                if tally.observe(chunk):
                    chunk["model"] = name
                    if first:
                        # The first event goes out alone, at once: time to first byte is what a
                        # streaming client waits on; the rest of a batch follows in one write.
                        first = False
                        await send(response, encode_event(chunk))
                    else:
                        out.append(encode_event(chunk))
            if out:
                await send(response, b"".join(out))
    except StreamBroken as broken:
        return broken.error
    return None
