"""One billed model call on its way through the gateway, whatever the endpoint family.

`begin_call` does what every model endpoint does first: authenticate, parse, resolve the model,
validate the body against its rules, find its deployments and reserve the worst-case cost.
The `Call` then tries deployments in order and settles the real cost from the usage.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from omnigate.api.common import read_json, resolve_model, validate
from omnigate.billing.book import InsufficientCredits, Reservation, Usage
from omnigate.billing.limits import LimitExceeded
from omnigate.billing.pricing import TokenRates
from omnigate.billing.redis_book import CreditStoreUnavailable
from omnigate.catalog.loader import Model
from omnigate.errors import OUT_OF_CREDITS, ApiError
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.scopes import require_scope
from omnigate.providers.base import ChunkStream, UpstreamFailure
from omnigate.routing.health import backoff_s
from omnigate.routing.router import Deployment
from omnigate.store.rows import KeyRow

log = logging.getLogger(__name__)
T = TypeVar("T")


async def begin_call(
    request: web.Request,
    *,
    accepted: tuple[str, ...],
    endpoint: str,
    check: Callable[[dict], None] | None = None,
    generates_tokens: bool = True,
) -> Call:
    started = time.perf_counter()
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    body, raw = await read_json(request)
    return await start_call(
        request,
        key,
        body,
        len(raw),
        started,
        accepted=accepted,
        endpoint=endpoint,
        check=check,
        generates_tokens=generates_tokens,
    )


async def start_call(
    request: web.Request,
    key: KeyRow,
    body: dict,
    raw_size: int,
    started: float,
    *,
    accepted: tuple[str, ...],
    endpoint: str,
    check: Callable[[dict], None] | None = None,
    generates_tokens: bool = True,
) -> Call:
    """`begin_call` past authentication and parsing, for routes that translate a body of another
    dialect first (Anthropic's /v1/messages)."""
    gw = request.app[GATEWAY]
    require_scope(key, endpoint)
    model = resolve_model(gw.catalog, body, accepted=accepted, endpoint=endpoint)
    if check is not None:
        check(body)
    _name_the_output_budget(model, body)
    validate(model, body)
    deployments = gw.router.plan(model, max(1, gw.settings.routing.max_attempts))
    rates = gw.rates(model, deployments)
    worst_case = 0
    if rates is not None:
        output = _max_output_tokens(gw, model, body) if generates_tokens else 0
        # Every prompt token spans at least one byte of the body, so its size bounds the prompt.
        worst_case = rates.worst_case(raw_size, output)
    reservation = await reserve(gw, key, worst_case)
    return Call(
        gw, request, key, model, body, deployments, rates, reservation, math.ceil(raw_size / 4), started
    )


async def reserve(gw: Gateway, key: KeyRow, credits: int) -> Reservation:
    """Hold `credits` for a request of `key`, or the error that refuses it: 429 past a rate limit
    or budget, 403 out of credits, 503 when the credit store does not answer."""
    try:
        return await gw.book.reserve(key, credits)
    except InsufficientCredits as exc:
        detail = f"This request may cost up to {exc.needed} credits; {exc.available} are available."
        raise ApiError(403, f"{OUT_OF_CREDITS} ({detail})", code="insufficient_credits") from exc
    except LimitExceeded as exc:
        headers = {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        code = "rate_limit_exceeded" if exc.status == 429 else "budget_exhausted"
        raise ApiError(exc.status, exc.message, code=code, headers=headers) from exc
    except CreditStoreUnavailable as exc:
        raise ApiError(
            503,
            "Service unavailable: the credit store did not answer; try again.",
            code="credit_store_unavailable",
        ) from exc


def _name_the_output_budget(model: Model, body: dict) -> None:
    """`max_tokens` and `max_completion_tokens` mean the same; SDKs send either. When the model's
    rules know only one, the other is renamed, rather than dropped with the unknown fields."""
    names = model.param_names
    if not names:
        return
    for given, known in (("max_completion_tokens", "max_tokens"), ("max_tokens", "max_completion_tokens")):
        if given in body and given not in names and known in names and known not in body:
            body[known] = body.pop(given)


def _max_output_tokens(gw: Gateway, model: Model, body: dict) -> int:
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(requested, int | float) and requested > 0:
        limit = int(requested)
    else:
        limit = model.max_output_tokens or gw.settings.billing.default_max_output_tokens
    choices = body.get("n")
    return limit * (choices if isinstance(choices, int) and choices > 1 else 1)


@dataclass(slots=True)
class Call:
    gw: Gateway
    request: web.Request
    key: KeyRow
    model: Model
    body: dict
    deployments: list[Deployment]  # the attempt plan, in order
    rates: TokenRates | None
    reservation: Reservation
    prompt_estimate: int
    started: float
    upstream_seconds: float = 0.0
    deployment: Deployment | None = None

    @property
    def request_id(self) -> str:
        return self.request[REQUEST_ID]

    @property
    def served_model(self) -> str:
        """The model named in the answer: a built-in engine answers as itself, never as another id."""
        if self.deployment is not None and self.deployment.backend.local:
            return self.deployment.upstream_model
        return self.model.id

    def forward_body(self, deployment: Deployment) -> dict:
        """The body for one deployment: fields the rules know (the service drops the rest)."""
        names = self.model.param_names
        out = {k: v for k, v in self.body.items() if k in names} if names else dict(self.body)
        out["model"] = deployment.upstream_model
        return out

    async def attempt(self, send_one: Callable[[Deployment], Awaitable[T]]) -> T:
        """Try the plan's deployments in order until one answers. Only failures before any byte
        reached the client land here, so trying again elsewhere is always safe."""
        routing = self.gw.settings.routing
        health = self.gw.router.health
        failure: UpstreamFailure | None = None
        for number, deployment in enumerate(self.deployments, start=1):
            began = time.perf_counter()
            try:
                result = await send_one(deployment)
            except UpstreamFailure as exc:
                failure = exc
                # A refusal of the request itself (a 4xx) says nothing about the deployment's health:
                # a client sending bad bodies must not push everyone's traffic to the backup.
                cooling = exc.retryable and health.failed(deployment.label)
                log.warning(
                    "request %s attempt %d/%d via %s failed: %s%s",
                    self.request_id,
                    number,
                    len(self.deployments),
                    deployment.label,
                    exc,
                    f" (cooling down for {routing.cooldown_s:g}s)" if cooling else "",
                )
                if not exc.retryable or number == len(self.deployments):
                    break
                if self.deployments[number] is deployment:  # the same deployment again: wait first
                    wait = backoff_s(
                        number,
                        base_s=routing.backoff_base_s,
                        max_s=routing.backoff_max_s,
                        retry_after_s=exc.retry_after,
                    )
                    if wait is None:
                        break  # it asked for more patience than a request can have
                    await asyncio.sleep(wait)
                continue
            finally:
                self.upstream_seconds += time.perf_counter() - began
            health.succeeded(deployment.label)
            if number > 1:
                log.info("request %s served by %s on attempt %d", self.request_id, deployment.label, number)
            self.deployment = deployment
            return result
        assert failure is not None
        raise failure.error

    async def complete_chat(self) -> dict:
        """The chat completion from the first deployment that answers."""

        return await self.attempt(self.complete_chat_at)

    async def open_chat_stream(self) -> ChunkStream:
        """The chunk stream of the first deployment that answers."""

        return await self.attempt(self.open_chat_stream_at)

    async def complete_chat_at(self, deployment: Deployment) -> dict:
        """One deployment's chat completion (for routes that pick the road per deployment)."""
        return await deployment.backend.complete(
            self.forward_body(deployment), account_id=self.key.account_id
        )

    async def open_chat_stream_at(self, deployment: Deployment) -> ChunkStream:
        """One deployment's chunk stream."""
        body = self.forward_body(deployment)
        body["stream"] = True
        # Always ask for usage: billing needs it, and every stream we send ends with it.
        body["stream_options"] = {**(self.body.get("stream_options") or {}), "include_usage": True}
        return await deployment.backend.open_stream(body, account_id=self.key.account_id)

    async def settle(self, usage: dict) -> int:
        cost = self.rates.cost(usage) if self.rates else 0
        record = Usage(
            key_prefix=self.key.prefix,
            model=self.served_model,
            request_id=self.request_id,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
        return await self.gw.book.settle(self.reservation, cost, record)

    def estimated_usage(self, completion_tokens: int) -> dict:
        # Only used when the backend reports no usage (it ignored stream_options, or the client left).
        log.info("request %s: no usage from the backend, billing an estimate", self.request_id)
        return {
            "prompt_tokens": self.prompt_estimate,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_estimate + completion_tokens,
        }

    def headers(self, content_type: str | None = "application/json") -> dict[str, str]:
        """Response headers: the request id and the time the gateway itself added (total minus
        upstream), so users can check the overhead in production."""
        overhead = (time.perf_counter() - self.started - self.upstream_seconds) * 1000
        headers = {"X-Request-Id": self.request_id, "X-Omnigate-Overhead-Ms": f"{overhead:.3f}"}
        if content_type:
            # Given as a plain header: aiohttp's content_type argument parses it on every response.
            headers["Content-Type"] = content_type
        return headers
