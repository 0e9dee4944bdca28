"""Trying a request's deployments in order: retries, fallbacks and cool-downs, for every family."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from omnigate.providers.base import UpstreamFailure
from omnigate.routing.health import DeploymentHealth, backoff_s
from omnigate.routing.router import Deployment
from omnigate.settings import RoutingSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Answered(Generic[T]):
    result: T
    deployment: Deployment
    upstream_seconds: float  # time spent waiting on deployments, failed attempts included


async def attempt(
    plan: list[Deployment],
    send_one: Callable[[Deployment], Awaitable[T]],
    *,
    health: DeploymentHealth,
    routing: RoutingSettings,
    request_id: str,
) -> Answered[T]:
    """Try the plan's deployments in order until one answers. Only failures before any byte
    reached the client land here, so trying again elsewhere is always safe."""
    failure: UpstreamFailure | None = None
    waited = 0.0
    for number, deployment in enumerate(plan, start=1):
        began = time.perf_counter()
        try:
            result = await send_one(deployment)
        except UpstreamFailure as exc:
            waited += time.perf_counter() - began
            failure = exc
            # A refusal of the request itself (a 4xx) says nothing about the deployment's health:
            # a client sending bad bodies must not push everyone's traffic to the backup.
            cooling = exc.retryable and health.failed(deployment.label)
            log.warning(
                "request %s attempt %d/%d via %s failed: %s%s",
                request_id,
                number,
                len(plan),
                deployment.label,
                exc,
                f" (cooling down for {routing.cooldown_s:g}s)" if cooling else "",
            )
            if not exc.retryable or number == len(plan):
                break
            if plan[number] is deployment:  # the same deployment again: wait first
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
        waited += time.perf_counter() - began
        health.succeeded(deployment.label)
        if number > 1:
            log.info("request %s served by %s on attempt %d", request_id, deployment.label, number)
        return Answered(result, deployment, waited)
    assert failure is not None
    raise failure.error
