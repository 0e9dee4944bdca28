"""POST /v1/responses: OpenAI's Responses API in front of every catalogue chat model.

The request is translated to a chat body and takes the road of /v1/chat/completions (the same
rules, deployments and credits). A deployment whose upstream speaks Responses itself gets the
request natively (responses/native.py); any other gets the chat body, and its completion is
translated back into a Response. Stored turns make previous_response_id, GET, DELETE and
input_items work whichever road served them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from aiohttp import web

from omnigate.api.chat_call import (
    RESPONSES,
    begin_tokens,
    complete_chat_at,
    estimated_usage,
    open_chat_stream_at,
    settle_tokens,
)
from omnigate.api.chat_stream import StreamTally, UsageMeter, relay_translated, serve_stream
from omnigate.api.common import read_json, validate
from omnigate.api.pipeline import Call
from omnigate.catalog.loader import Model
from omnigate.errors import ApiError, bad_request
from omnigate.gateway import GATEWAY
from omnigate.http.sse import send
from omnigate.providers.base import ChunkStream, ResponsesBackend
from omnigate.responses import storage, truncation
from omnigate.responses.items import TranslationError, new_id, normalise_input
from omnigate.responses.native import NativeRelay, adopt, upstream_body
from omnigate.responses.stream import EventTranslator, encode
from omnigate.responses.translate import base_response, chat_usage, output_text, to_chat_body, to_response
from omnigate.routing.router import Deployment


@dataclass(slots=True)
class Turn:
    """One Responses request: the body as sent, its input items (normalised, as stored) and the
    items of the earlier turns that previous_response_id names, oldest first."""

    request: dict[str, Any]
    items: list[dict[str, Any]]
    history: list[dict[str, Any]]
    response_id: str = field(default_factory=lambda: new_id("resp"))

    def native_body(self, call: Call, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
        return upstream_body(
            self.request,
            self.history + self.items,
            upstream_model=deployment.upstream_model,
            known_chat_params=call.model.param_names,
            stream=stream,
        )


async def create_response(request: web.Request) -> web.StreamResponse:
    call, turn = await _begin(request)
    try:
        if turn.request.get("stream") is True:
            return await _stream(call, turn)
        return await _complete(call, turn)
    finally:
        await call.release()


async def _begin(request: web.Request) -> tuple[Call, Turn]:
    started = time.perf_counter()
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    original, raw = await read_json(request)
    previous = original.get("previous_response_id")
    history: list[dict[str, Any]] = []
    if previous is not None:
        if not isinstance(previous, str):
            raise bad_request("previous_response_id: Expected a string", param="previous_response_id")
        history = await storage.history(gw.db, previous, key.account_id)
    try:
        items = normalise_input(original.get("input"))
        # Built for every request, whichever road serves it: the model's rules, the deployments and
        # the reservation all come from the chat body, so both roads accept the same requests.
        body = to_chat_body(original, history, items)
        model = gw.catalog.lookup(body["model"]) if isinstance(body.get("model"), str) else None
        # An unknown model is left to the pipeline, which names the problem better.
        context_length = model.context_length if model is not None else None
        body["messages"] = truncation.fit(body["messages"], context_length, original.get("truncation"))
    except TranslationError as exc:
        raise bad_request(str(exc), param=exc.param) from exc
    # The earlier turns go upstream too, so they count towards the worst case reserved.
    size = len(raw) + (len(orjson.dumps(history)) if history else 0)

    def validate_turn(model: Model, chat_body: dict) -> None:
        # A Responses-only model's rules describe the Responses request itself.
        validate(model, original if model.type == "responses" else chat_body)

    call = await begin_tokens(
        request, key, body, size, started, family=RESPONSES, validate_with=validate_turn
    )
    return call, Turn(original, items, history)


async def _answer(call: Call, turn: Turn, *, stream: bool) -> Any:
    """The first answer a deployment gives, by the road it takes: a Response (or its event
    stream) from an upstream that speaks Responses, else a chat completion (or its chunks)."""

    async def send_one(deployment: Deployment) -> Any:
        backend = deployment.backend
        if not backend.speaks_responses:
            chat = open_chat_stream_at if stream else complete_chat_at
            return await chat(call, deployment)
        native = cast(ResponsesBackend, backend)
        body = turn.native_body(call, deployment, stream=stream)
        return await (native.open_response_stream(body) if stream else native.respond(body))

    return await call.attempt(send_one)


async def _complete(call: Call, turn: Turn) -> web.Response:
    answer: dict = await _answer(call, turn, stream=False)
    assert call.deployment is not None
    if call.deployment.backend.speaks_responses:
        response = adopt(answer, turn.request, response_id=turn.response_id, model=call.served_model)
        response["output_text"] = output_text(response["output"])
    else:
        response = to_response(answer, turn.request, response_id=turn.response_id, model=call.served_model)
    usage = chat_usage(response.get("usage"))
    if usage is None:
        chars = len(response["output_text"]) + sum(len(i.get("arguments", "")) for i in response["output"])
        usage = estimated_usage(call, chars // 4)
    await settle_tokens(call, usage, answer)
    if response["store"]:
        await storage.save(call.gw.db, call.key.account_id, response, turn.items)
    return web.Response(body=orjson.dumps(response), headers=call.headers())


async def _stream(call: Call, turn: Turn) -> web.StreamResponse:
    stream: ChunkStream = await _answer(call, turn, stream=True)
    assert call.deployment is not None
    created_at = int(time.time())
    # Chat chunks are translated into events and counted by a tally; native events are relayed,
    # and the relay counts them itself.
    translator: EventTranslator | NativeRelay
    meter: UsageMeter
    tally: StreamTally | None = None
    if call.deployment.backend.speaks_responses:
        translator = meter = NativeRelay(
            turn.request, response_id=turn.response_id, model=call.served_model, created_at=created_at
        )
    else:
        base = base_response(
            turn.request, response_id=turn.response_id, model=call.served_model, created_at=created_at
        )
        translator = EventTranslator(base)
        tally = meter = StreamTally()

    async def relay(response: web.StreamResponse) -> ApiError | None:
        await send(response, encode(translator.start()))
        return await relay_translated(call.request_id, stream, response, translator.feed, encode, tally)

    async def ending(failure: ApiError | None, usage: dict, charged: int) -> bytes:
        if failure is not None:
            return encode(translator.failed(failure.status, failure.message))
        events = translator.finish(usage)
        final = translator.response
        if final["store"] and final["status"] in ("completed", "incomplete"):
            await storage.save(call.gw.db, call.key.account_id, final, turn.items)
        return encode(events)

    return await serve_stream(call, stream, meter, call.headers(content_type=None), relay, ending)


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_response(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    row = await storage.load(gw.db, request.match_info["response_id"], key.account_id)
    response = orjson.loads(row.output)
    response.setdefault("output_text", output_text(response.get("output") or []))
    return _json(response)


async def delete_response(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    response_id = request.match_info["response_id"]
    await storage.load(gw.db, response_id, key.account_id)  # 404 for unknown or foreign ids
    await storage.delete(gw.db, response_id, key.account_id)
    return _json({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    row = await storage.load(gw.db, request.match_info["response_id"], key.account_id)
    items: list[dict[str, Any]] = orjson.loads(row.input)
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("order: Expected asc or desc", param="order")
    if order == "desc":  # OpenAI's default: newest item first
        items.reverse()
    after = request.query.get("after")
    if after:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError as exc:
        raise bad_request("limit: Expected an integer", param="limit") from exc
    if not 1 <= limit <= 100:
        raise bad_request("limit: Expected an integer between 1 and 100", param="limit")
    page = items[:limit]
    return _json(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )
