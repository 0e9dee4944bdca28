"""Routes for operators and their machines, without a key: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from omnigate.billing.redis_book import RedisCreditBook
from omnigate.errors import ApiError
from omnigate.gateway import GATEWAY, Gateway
from omnigate.telemetry.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)

# A check slower than this counts as failed: a load balancer's probe must get an answer.
CHECK_TIMEOUT_S = 2.0
_ALIVE = b'{"status":"ok"}'


async def health(request: web.Request) -> web.Response:
    """The process answers (liveness): nothing else is checked."""
    return web.Response(body=_ALIVE, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    """Whether this process can serve requests: its database answers, its Redis (when one is
    configured) answers, and it has at least one route. 503 names each check that failed."""
    checks = await readiness(request.app[GATEWAY])
    ok = all(value == "ok" or value == "not configured" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503
    )


async def readiness(gw: Gateway) -> dict[str, str]:
    # Each check has its own timeout and catches its own errors: asked at once, a probe waits for
    # the slower of the two, not their sum.
    database, redis = await asyncio.gather(_database(gw), _redis(gw))
    return {"database": database, "redis": redis, "routes": _routes(gw)}


async def _database(gw: Gateway) -> str:
    try:
        version = await asyncio.wait_for(asyncio.to_thread(gw.db.schema_version), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g}s"
    except Exception as exc:
        # The details (hosts, users) go to the log, not to whoever asks without a key.
        log.warning("readiness: the database failed: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return "ok" if version is not None else "no schema (run `omnigate db upgrade`)"


async def _redis(gw: Gateway) -> str:
    if not isinstance(gw.book, RedisCreditBook):
        return "not configured"
    try:
        await asyncio.wait_for(gw.book.ping(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g}s"
    except Exception as exc:
        log.warning("readiness: Redis failed: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _routes(gw: Gateway) -> str:
    if gw.router.route_count == 0:
        return "no routes: add [[routes]] to the config, or turn on [engines] builtin"
    return "ok"


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format (telemetry/metrics.py)."""
    found = request.app[GATEWAY].metrics
    if found is None:
        raise ApiError(404, "Metrics are off on this gateway ([telemetry] metrics = false).")
    return web.Response(body=await found.render(), headers={"Content-Type": CONTENT_TYPE})
