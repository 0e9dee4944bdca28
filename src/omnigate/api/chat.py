"""POST /v1/chat/completions: validate, reserve credits, forward, relay, settle."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import orjson
from aiohttp import web

from omnigate.api.common import read_json, resolve_model, validate
from omnigate.billing.book import InsufficientCredits, Reservation
from omnigate.billing.pricing import TokenRates
from omnigate.catalog.loader import Model
from omnigate.errors import BODY_VALIDATION, OUT_OF_CREDITS, ApiError, bad_request, error_payload
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.sse import ClientGone, open_sse, send
from omnigate.providers.openai_compat.client import UpstreamFailure, upstream_message
from omnigate.providers.openai_compat.stream import (
    DONE,
    StreamTally,
    encode_event,
    sse_data,
    usage_chunk,
)
from omnigate.routing.router import Deployment
from omnigate.store.db import KeyRow, LedgerEntry

log = logging.getLogger(__name__)
T = TypeVar("T")

CHAT_PATH = "/chat/completions"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    gw = request.app[GATEWAY]
    key = gw.keys.authenticate(request.headers.get("Authorization"))
    body, raw = await read_json(request)
    model = resolve_model(gw.catalog, body, accepted=("chat-completion",), endpoint="/v1/chat/completions")
    _require_messages(body)
    validate(model, body)
    deployments = gw.router.require(model)
    call = ChatCall.begin(gw, request, key, model, body, raw_size=len(raw), started=started)
    try:
        if body.get("stream") is True:
            return await _stream(call, deployments)
        return await _complete(call, deployments)
    finally:
        gw.book.release(call.reservation)


def _require_messages(body: dict) -> None:
    messages = body.get("messages")
    if messages is None:
        raise bad_request(f"{BODY_VALIDATION} messages: Required", param="messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request(f"{BODY_VALIDATION} messages: Expected a non-empty array", param="messages")


@dataclass(slots=True)
class ChatCall:
    """One chat request on its way through the gateway."""

    gw: Gateway
    request: web.Request
    key: KeyRow
    model: Model
    body: dict
    rates: TokenRates | None
    reservation: Reservation
    prompt_estimate: int
    started: float
    upstream_seconds: float = 0.0

    @classmethod
    def begin(
        cls,
        gw: Gateway,
        request: web.Request,
        key: KeyRow,
        model: Model,
        body: dict,
        *,
        raw_size: int,
        started: float,
    ) -> ChatCall:
        rates = gw.rates(model)
        worst_case = 0
        if rates is not None:
            # Every prompt token spans at least one byte of the body, so its size bounds the prompt.
            worst_case = rates.worst_case(raw_size, _max_output_tokens(gw, model, body))
        try:
            reservation = gw.book.reserve(key.account_id, worst_case)
        except InsufficientCredits as exc:
            raise ApiError(
                403,
                f"{OUT_OF_CREDITS} (This request may cost up to {exc.needed} credits; "
                f"{exc.available} are available.)",
                code="insufficient_credits",
            ) from exc
        return cls(gw, request, key, model, body, rates, reservation, math.ceil(raw_size / 4), started)

    @property
    def request_id(self) -> str:
        return self.request[REQUEST_ID]

    def upstream_body(self, deployment: Deployment, *, stream: bool) -> bytes:
        names = self.model.param_names
        out = {k: v for k, v in self.body.items() if k in names} if names else dict(self.body)
        out["model"] = deployment.upstream_model
        if stream:
            out["stream"] = True
            # Always ask for usage: billing needs it, and every stream we send ends with it.
            out["stream_options"] = {
                **(self.body.get("stream_options") or {}),
                "include_usage": True,
            }
        return orjson.dumps(out)

    def settle(self, usage: dict) -> int:
        cost = self.rates.cost(usage) if self.rates else 0
        return self.gw.book.settle(
            self.reservation,
            cost,
            LedgerEntry(
                account_id=self.key.account_id,
                amount=-cost,
                kind="charge",
                key_prefix=self.key.prefix,
                model=self.model.id,
                request_id=self.request_id,
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
            ),
        )

    def estimated_usage(self, completion_tokens: int) -> dict:
        # Only used when the upstream reports no usage (it ignored stream_options, or the client left).
        log.info("request %s: no usage from upstream, billing an estimate", self.request_id)
        return {
            "prompt_tokens": self.prompt_estimate,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_estimate + completion_tokens,
        }

    def headers(self) -> dict[str, str]:
        overhead = (time.perf_counter() - self.started - self.upstream_seconds) * 1000
        return {"X-Request-Id": self.request_id, "X-Omnigate-Overhead-Ms": f"{overhead:.3f}"}

    async def attempt(
        self, deployments: tuple[Deployment, ...], send_one: Callable[[Deployment], Awaitable[T]]
    ) -> T:
        """Try deployments in order until one answers; only failures before any byte reached the
        client come here, so moving to the next deployment is always safe."""
        limit = max(1, self.gw.settings.routing.max_attempts)
        failure: UpstreamFailure | None = None
        for number, deployment in enumerate(deployments[:limit], start=1):
            began = time.perf_counter()
            try:
                result = await send_one(deployment)
            except UpstreamFailure as exc:
                failure = exc
                log.warning(
                    "request %s attempt %d via %s failed: %s",
                    self.request_id,
                    number,
                    deployment.label,
                    exc,
                )
                if not exc.retryable:
                    break
                continue
            finally:
                self.upstream_seconds += time.perf_counter() - began
            return result
        assert failure is not None
        raise failure.error


def _max_output_tokens(gw: Gateway, model: Model, body: dict) -> int:
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(requested, int | float) and requested > 0:
        limit = int(requested)
    else:
        limit = model.max_output_tokens or gw.settings.billing.default_max_output_tokens
    choices = body.get("n")
    return limit * (choices if isinstance(choices, int) and choices > 1 else 1)


async def _complete(call: ChatCall, deployments: tuple[Deployment, ...]) -> web.Response:
    async def send_one(deployment: Deployment) -> dict:
        response = await deployment.provider.post(CHAT_PATH, call.upstream_body(deployment, stream=False))
        try:
            raw = await response.read()
        except TimeoutError as exc:
            raise UpstreamFailure(_timeout(deployment), retryable=True) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamFailure(_broken(deployment, exc), retryable=True) from exc
        finally:
            response.release()
        return _parse_completion(raw, deployment)

    completion = await call.attempt(deployments, send_one)
    usage = completion.get("usage") or call.estimated_usage(_completion_chars(completion) // 4)
    charged = call.settle(usage)
    completion["model"] = call.model.id
    completion["meta"] = {"usage": {"tokens_used": charged}}
    return web.Response(
        body=orjson.dumps(completion), content_type="application/json", headers=call.headers()
    )


def _parse_completion(raw: bytes, deployment: Deployment) -> dict:
    try:
        completion = orjson.loads(raw)
    except orjson.JSONDecodeError:
        completion = None
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise UpstreamFailure(
            ApiError(
                502,
                f"Bad Gateway: provider {deployment.provider.name!r} returned an invalid chat completion.",
                code="upstream_invalid",
            ),
            retryable=True,
        )
    return completion


def _completion_chars(completion: dict) -> int:
    total = 0
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        total += len(message.get("content") or "")
        for call in message.get("tool_calls") or ():
            total += len((call.get("function") or {}).get("arguments") or "")
    return total


async def _stream(call: ChatCall, deployments: tuple[Deployment, ...]) -> web.StreamResponse:
    async def send_one(deployment: Deployment) -> aiohttp.ClientResponse:
        response = await deployment.provider.post(CHAT_PATH, call.upstream_body(deployment, stream=True))
        if response.content_type != "text/event-stream":
            response.close()
            raise UpstreamFailure(
                ApiError(
                    502,
                    f"Bad Gateway: provider {deployment.provider.name!r} did not answer with an event stream",
                    code="upstream_invalid",
                ),
                retryable=True,
            )
        return response

    upstream = await call.attempt(deployments, send_one)
    tally = StreamTally()
    failure: ApiError | None = None
    settled = False
    try:
        response = await open_sse(call.request, call.headers())
        try:
            failure = await _relay(call, upstream, response, tally)
        except ClientGone:
            log.info("request %s: client left mid-stream; upstream cancelled", call.request_id)
            return response
        usage = tally.usage or call.estimated_usage(tally.completion_estimate())
        charged = call.settle(usage)
        settled = True
        try:
            if failure is not None:
                await send(
                    response,
                    encode_event(error_payload(failure, path=call.request.path, request_id=call.request_id)),
                )
            else:
                final = usage_chunk(tally, model=call.model.id, usage=usage, tokens_used=charged)
                await send(response, encode_event(final))
                await send(response, DONE)
            await response.write_eof()
        except ClientGone:
            pass
        return response
    finally:
        if not tally.finished:
            upstream.close()  # closing the connection is how an upstream generation is cancelled
        upstream.release()
        if not settled:
            # The client went away (or the handler was cancelled): bill what was produced.
            call.settle(tally.usage or call.estimated_usage(tally.completion_estimate()))


async def _relay(
    call: ChatCall,
    upstream: aiohttp.ClientResponse,
    response: web.StreamResponse,
    tally: StreamTally,
) -> ApiError | None:
    """Copy chunks to the client; returns the error that ended the stream early, if any."""
    name = call.model.id
    try:
        async for payload in sse_data(upstream.content.iter_any()):
            if payload == b"[DONE]":
                tally.finished = True
                return None
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return ApiError(
                    502,
                    "Bad Gateway: the upstream sent an invalid stream event.",
                    code="upstream_invalid",
                )
            if not isinstance(chunk, dict):
                return ApiError(
                    502,
                    "Bad Gateway: the upstream sent an invalid stream event.",
                    code="upstream_invalid",
                )
            if chunk.get("error"):
                message, _, _ = upstream_message(payload)
                return ApiError(
                    502,
                    f"Bad Gateway: the upstream failed mid-stream: {message}",
                    code="upstream_error",
                )
            if tally.observe(chunk):
                chunk["model"] = name
                await send(response, encode_event(chunk))
    except TimeoutError:
        return ApiError(504, "Generation timeout: the upstream stopped sending.", code="upstream_timeout")
    except aiohttp.ClientError as exc:
        return ApiError(502, f"Bad Gateway: the upstream stream broke ({exc}).", code="upstream_broken")
    return ApiError(
        502,
        "Bad Gateway: the upstream closed the stream before it finished.",
        code="upstream_truncated",
    )


def _timeout(deployment: Deployment) -> ApiError:
    return ApiError(
        504,
        f"Generation timeout: provider {deployment.provider.name!r} did not answer in time.",
        code="upstream_timeout",
    )


def _broken(deployment: Deployment, exc: Exception) -> ApiError:
    return ApiError(
        502,
        f"Bad Gateway: the answer of provider {deployment.provider.name!r} broke off ({exc}).",
        code="upstream_broken",
    )
