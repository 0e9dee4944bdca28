"""POST /v1/messages: Anthropic's Messages API in front of every catalogue chat model.

The request is translated to an OpenAI chat body and then takes the road of
/v1/chat/completions (the same rules, deployments, credits); the answer is translated back.
Errors leave in Anthropic's shape, so the anthropic SDK raises its usual exceptions.
"""

from __future__ import annotations

import logging
import time

import orjson
from aiohttp import web

from omnigate.api.chat_call import (
    MESSAGES,
    begin_tokens,
    complete_chat,
    estimated_usage,
    open_chat_stream,
    settle_tokens,
)
from omnigate.api.chat_stream import StreamTally, relay_translated, serve_stream
from omnigate.api.common import read_json
from omnigate.api.pipeline import Call
from omnigate.errors import ApiError, bad_request
from omnigate.gateway import GATEWAY, REQUEST_ID
from omnigate.providers.anthropic.inbound import (
    InboundError,
    anthropic_usage,
    to_chat_body,
    to_message,
)
from omnigate.providers.anthropic.inbound_stream import EventTranslator, encode, error_event, error_type

log = logging.getLogger(__name__)


async def messages(request: web.Request) -> web.StreamResponse:
    try:
        return await _handle(request)
    except ApiError as err:
        return error_response(request, err)
    except Exception:
        # Caught here rather than by the app's boundary, which would answer in OpenAI's shape.
        log.exception("request %s failed", request[REQUEST_ID])
        return error_response(request, ApiError(500, "Internal server error", code="internal_error"))


async def _handle(request: web.Request) -> web.StreamResponse:
    call, stops = await _begin(request)
    try:
        if call.body.get("stream") is True:
            return await _stream(call, stops)
        return await _complete(call, stops)
    finally:
        await call.release()


async def _begin(request: web.Request) -> tuple[Call, tuple[str, ...]]:
    """The pipeline's first steps on the translated body: authenticate, parse, resolve the model,
    validate against its (OpenAI-shaped) rules, find deployments, hold the worst case."""
    started = time.perf_counter()
    key = await request.app[GATEWAY].keys.authenticate(_authorization(request))
    original, raw = await read_json(request)
    try:
        body = to_chat_body(original)
    except InboundError as exc:
        raise bad_request(str(exc), param=exc.param) from exc
    call = await begin_tokens(request, key, body, len(raw), started, family=MESSAGES)
    # Kept to name the stop sequence that ended the answer, when the backend tells.
    return call, tuple(body.get("stop") or ())


def _authorization(request: web.Request) -> str | None:
    # The anthropic SDK sends its key as x-api-key (and as a Bearer token only when given an
    # auth_token), so both are accepted; x-api-key wins as the header this API documents.
    api_key = request.headers.get("x-api-key")
    return f"Bearer {api_key}" if api_key else request.headers.get("Authorization")


def error_response(request: web.Request, err: ApiError) -> web.Response:
    request_id = request[REQUEST_ID]
    body = {
        "type": "error",
        "error": {"type": error_type(err.status), "message": err.message},
        "request_id": request_id,
    }
    headers = {"X-Request-Id": request_id, "request-id": request_id, **err.headers}
    return web.Response(
        body=orjson.dumps(body), status=err.status, content_type="application/json", headers=headers
    )


def _headers(call: Call, content_type: str | None = "application/json") -> dict[str, str]:
    # request-id is where the anthropic SDK looks for the id (`message._request_id`).
    return {**call.headers(content_type), "request-id": call.request_id}


async def _complete(call: Call, stops: tuple[str, ...]) -> web.Response:
    message, usage, completion = await answer_message(call, stops)
    await settle_tokens(call, usage, completion)
    return web.Response(body=orjson.dumps(message), headers=_headers(call))


async def answer_message(call: Call, stops: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """The answer as an Anthropic message, the OpenAI usage to charge (as reported, or
    estimated), and the completion it came from; not yet charged (a batch's runner keeps the
    answer first)."""
    completion = await complete_chat(call)
    message = to_message(completion, model=call.served_model, stop_sequences=stops)
    usage = completion.get("usage")
    if not usage:
        usage = estimated_usage(call, _output_chars(message) // 4)
        message["usage"] = anthropic_usage(usage)
    return message, usage, completion


def _output_chars(message: dict) -> int:
    total = 0
    for block in message["content"]:
        if block["type"] == "tool_use":
            total += len(orjson.dumps(block["input"]))
        else:
            total += len(block.get("text") or block.get("thinking") or "")
    return total


async def _stream(call: Call, stops: tuple[str, ...]) -> web.StreamResponse:
    chunks = await open_chat_stream(call)
    translator = EventTranslator(model=call.served_model, stop_sequences=stops)
    tally = StreamTally()

    async def relay(response: web.StreamResponse) -> ApiError | None:
        return await relay_translated(call.request_id, chunks, response, translator.feed, encode, tally)

    async def ending(failure: ApiError | None, usage: dict, charged: int) -> bytes:
        if failure is not None:
            return encode([error_event(failure.status, failure.message)])
        return encode(translator.finish(usage))

    return await serve_stream(call, chunks, tally, _headers(call, content_type=None), relay, ending)
