"""The one path every billed request takes, whatever its family:

    authenticate → resolve the model → check its rules → price and hold the worst case
    → try deployments (routing/attempts.py) → settle the real cost or release the hold

A family's handler parses its body (JSON or multipart), says how to estimate the worst case,
calls `begin`, then `Call.attempt` with what to send each deployment, and `Call.settle` with what
the answer used. Chat-shaped families add their helpers in api/chat_call.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from omnigate.api.common import resolve_model, validate
from omnigate.billing.book import Reservation, Usage
from omnigate.billing.charge import hold
from omnigate.billing.pricing import Tariff, Used
from omnigate.catalog.loader import Model
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.scopes import require_scope
from omnigate.routing.attempts import attempt
from omnigate.routing.router import Deployment
from omnigate.store.rows import KeyRow
from omnigate.telemetry.logs import prompt_of
from omnigate.telemetry.record import RequestRecord, current

T = TypeVar("T")
# The worst case a family's request may use, from the model and the (validated) body.
Estimate = Callable[[Model, dict], Used]


@dataclass(frozen=True, slots=True)
class Family:
    """What a route serves: its public path (errors and key scopes name it), the catalogue types
    of the models it accepts, and for media routes the family its backends must serve."""

    endpoint: str
    accepted: tuple[str, ...]
    media: str | None = None


async def begin(
    request: web.Request,
    key: KeyRow,
    body: dict,
    *,
    family: Family,
    estimate: Estimate,
    started: float,
    body_size: int,
    check: Callable[[Model, dict], None] | None = None,
    validate_with: Callable[[Model, dict], None] = validate,
) -> Call:
    """Every step before the first upstream call of an HTTP request; raises the ApiError that
    refuses it. `validate_with` checks the body against the model's rules (a route whose body is
    translated before it gets here may check the original instead)."""
    return await admit(
        request.app[GATEWAY],
        key,
        body,
        family=family,
        estimate=estimate,
        request_id=request[REQUEST_ID],
        record=current(request),
        request=request,
        started=started,
        body_size=body_size,
        check=check,
        validate_with=validate_with,
    )


async def admit(
    gw: Gateway,
    key: KeyRow,
    body: dict,
    *,
    family: Family,
    estimate: Estimate,
    request_id: str,
    record: RequestRecord | None = None,
    request: web.Request | None = None,
    started: float | None = None,
    body_size: int = 0,
    check: Callable[[Model, dict], None] | None = None,
    validate_with: Callable[[Model, dict], None] = validate,
) -> Call:
    """`begin` for a call that no HTTP request carries (a batch's entry, an assistant's run, both
    run by the task runner): the same checks, the same hold, the same settlement later."""
    if record is not None:  # the key's owner sees its refused requests in its log too
        record.account_id, record.key_prefix = key.account_id, key.prefix
    require_scope(key, family.endpoint)
    model = resolve_model(gw.catalog, body, accepted=family.accepted, endpoint=family.endpoint)
    if record is not None:
        record.model = model.id
        if gw.keep_prompts:
            record.prompt = prompt_of(body)
    if check is not None:
        check(model, body)
    validate_with(model, body)
    plan = gw.router.plan(model, max(1, gw.settings.routing.max_attempts), family.media)
    tariff = gw.tariff(model, plan)
    worst_case = tariff.cost(estimate(model, body)) if tariff is not None else 0
    if not model.operator_priced:
        # An upstream that bills in credits charges what it reports, which is unknown before.
        worst_case = max(
            [worst_case, *(d.backend.reserve_credits for d in plan if d.backend.markup is not None)]
        )
    reservation = await hold(gw.book, key, worst_case)
    return Call(
        gw=gw,
        request_id=request_id,
        record=record,
        request=request,
        key=key,
        model=model,
        body=body,
        plan=plan,
        tariff=tariff,
        reservation=reservation,
        started=time.perf_counter() if started is None else started,
        body_size=body_size,
    )


@dataclass(slots=True)
class Call:
    gw: Gateway
    request_id: str
    record: RequestRecord | None  # what the observers will see of this call (None: not observed)
    request: web.Request | None  # the HTTP request that carries it (None: run by the task runner)
    key: KeyRow
    model: Model
    body: dict
    plan: list[Deployment]  # the deployments to try, in order
    tariff: Tariff | None
    reservation: Reservation
    started: float
    body_size: int  # bytes, as received
    upstream_seconds: float = 0.0
    deployment: Deployment | None = None

    @property
    def http_request(self) -> web.Request:
        """The HTTP request, for what only an HTTP answer needs (its stream, its origin)."""
        if self.request is None:
            raise RuntimeError(f"call {self.request_id} is not carried by an HTTP request")
        return self.request

    @property
    def served_model(self) -> str:
        """The model named in the answer: a built-in engine answers as itself, never as another id."""
        if self.deployment is not None and self.deployment.backend.local:
            return self.deployment.upstream_model
        return self.model.id

    def forward_body(self, deployment: Deployment) -> dict:
        """The body for one deployment: fields the rules know (the service drops the rest). The
        rules of a Responses-only model name Responses fields, not this chat body's: it is kept."""
        names = self.model.param_names if self.model.type != "responses" else None
        out = {k: v for k, v in self.body.items() if k in names} if names else dict(self.body)
        out["model"] = deployment.upstream_model
        return out

    async def attempt(self, send_one: Callable[[Deployment], Awaitable[T]]) -> T:
        """The answer of the first deployment of the plan that gives one."""
        if self.gw.tracing is not None:
            send_one = self.gw.tracing.attempts(send_one, self.model, self.body, self.request_id)
        answered = await attempt(
            self.plan,
            send_one,
            health=self.gw.router.health,
            routing=self.gw.settings.routing,
            request_id=self.request_id,
        )
        self.deployment = answered.deployment
        self.upstream_seconds += answered.upstream_seconds
        record = self.record
        if record is not None:
            record.model, record.provider = self.served_model, answered.deployment.backend.name
            record.upstream_ms = self.upstream_seconds * 1000
        return answered.result

    async def settle(
        self,
        used: Used,
        *,
        upstream_credits: int | None = None,
        note: str | None = None,
        entry_id: str | None = None,
    ) -> int:
        """Charge what the request used and record it in the ledger; returns the credits charged.
        `entry_id`: the ledger entry's id, when the caller must find it again (a task's charge)."""
        record = Usage(
            key_prefix=self.key.prefix,
            model=self.served_model,
            request_id=self.request_id,
            prompt_tokens=used.prompt_tokens,
            completion_tokens=used.completion_tokens,
            note=note,
            entry_id=entry_id,
        )
        charged = await self.gw.book.settle(self.reservation, self.cost(used, upstream_credits), record)
        seen = self.record
        if seen is not None:
            seen.prompt_tokens += used.prompt_tokens
            seen.completion_tokens += used.completion_tokens
            seen.credits += charged
        return charged

    def cost(self, used: Used, upstream_credits: int | None = None) -> int:
        """What a request that used this costs, in credits.

        An upstream that bills in credits (the service itself, another Omnigate) is passed on at
        its own figure times its markup, unless the operator priced the model. Should it not say
        what it charged, the list price applies, or else what was held: never nothing.
        """
        if self.billed_by_upstream and upstream_credits is not None:
            markup = self.deployment.backend.markup  # type: ignore[union-attr]
            return math.ceil(upstream_credits * markup)
        if self.tariff is not None:
            return self.tariff.cost(used)
        return self.reservation.amount if self.billed_by_upstream else 0

    @property
    def billed_by_upstream(self) -> bool:
        """The deployment that answered bills in credits, and its figure is what is charged."""
        backend = self.deployment.backend if self.deployment is not None else None
        return backend is not None and backend.markup is not None and not self.model.operator_priced

    async def release(self) -> None:
        """Give back what is still held (a no-op once settled); every handler ends with it."""
        await self.gw.book.release(self.reservation)

    def headers(self, content_type: str | None = "application/json") -> dict[str, str]:
        """Response headers: the request id and the time the gateway itself added (total minus
        upstream), so users can check the overhead in production."""
        overhead = (time.perf_counter() - self.started - self.upstream_seconds) * 1000
        headers = {"X-Request-Id": self.request_id, "X-Omnigate-Overhead-Ms": f"{overhead:.3f}"}
        if content_type:
            # Given as a plain header: aiohttp's content_type argument parses it on every response.
            headers["Content-Type"] = content_type
        return headers
