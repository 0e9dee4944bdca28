"""The service's key management routes: POST/GET /v1/keys, PATCH/DELETE /v1/keys/{prefix}, GET /v1/key.

Shaped as the service documents them (`{data: ...}`, a spending `limit{retention, threshold}` in
USD, `scopes`), for admin keys; our rate limits sit beside them as `rate_limits{rpm, tpm,
concurrency}`. GET /v1/key shows any key its own settings and use.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from omnigate.api.admin import (
    admin_gateway,
    field,
    json_response,
    new_key,
    parse_limits,
    parse_scopes,
    run_store,
    update_key_from,
)
from omnigate.api.common import read_json
from omnigate.billing.limits import budget_period
from omnigate.billing.pricing import CREDITS_PER_USD
from omnigate.errors import BODY_VALIDATION, bad_request
from omnigate.gateway import GATEWAY, Gateway
from omnigate.store.rows import KeyRow, Limits

# The service's names for budget periods; "no_reset" is our "total".
RETENTIONS = {"no_reset": "total", "day": "day", "week": "week", "month": "month"}


def key_data(row: KeyRow, monthly_credits: int, account: str | None = None) -> dict[str, Any]:
    limits = row.limits
    limit = None
    if limits.budget is not None:
        retention = next(name for name, period in RETENTIONS.items() if period == limits.budget_period)
        limit = {"retention": retention, "threshold": limits.budget / CREDITS_PER_USD}
    return {
        "name": row.name,
        "disabled": row.disabled,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "limit": limit,
        "rate_limits": {"rpm": limits.rpm, "tpm": limits.tpm, "concurrency": limits.concurrency},
        "created_at": row.created_at.isoformat(),
        "updated_at": (row.updated_at or row.created_at).isoformat(),
        "monthly_usage": monthly_credits / CREDITS_PER_USD,
        "account": account,
        "admin": row.admin,
    }


def _body_limits(body: dict, current: Limits) -> Limits:
    """`limit` (USD, the service's shape) and `rate_limits` over the current limits."""
    limits = current
    if "limit" in body:
        limit = body["limit"]
        if limit is None:
            limits = dataclasses.replace(limits, budget=None)
        else:
            if not isinstance(limit, dict):
                raise bad_request(f"{BODY_VALIDATION} limit: Expected an object or null", param="limit")
            retention = limit.get("retention", "month")
            if retention not in RETENTIONS:
                raise bad_request(
                    f"{BODY_VALIDATION} limit.retention: Expected one of {', '.join(RETENTIONS)}",
                    param="limit.retention",
                )
            threshold = limit.get("threshold")
            if (
                not isinstance(threshold, int | float)
                or isinstance(threshold, bool)
                or not 0 <= threshold < 1e9
            ):
                raise bad_request(
                    f"{BODY_VALIDATION} limit.threshold: Expected a number of USD >= 0",
                    param="limit.threshold",
                )
            limits = dataclasses.replace(
                limits, budget=round(threshold * CREDITS_PER_USD), budget_period=RETENTIONS[retention]
            )
    rates = body.get("rate_limits")
    if rates is not None:
        if not isinstance(rates, dict) or set(rates) - {"rpm", "tpm", "concurrency"}:
            raise bad_request(
                f"{BODY_VALIDATION} rate_limits: Expected an object of rpm, tpm, concurrency",
                param="rate_limits",
            )
        limits = parse_limits(rates, limits, path="rate_limits.")
    return limits


async def _month_spent(gw: Gateway) -> dict[str, int]:
    start = budget_period("month", datetime.now(UTC)).start
    assert start is not None
    return await asyncio.to_thread(gw.db.spent_by_key, start)


async def create(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    caller = await gw.keys.authenticate_admin(request.headers.get("Authorization"))
    body, _ = await read_json(request)
    account = body.get("account")
    if account is not None and not isinstance(account, str):
        raise bad_request(f"{BODY_VALIDATION} account: Expected string", param="account")
    key, row = await new_key(
        gw,
        account if account is not None else caller.account_id,
        admin=field(body, "admin", bool, required=False, default=False),
        name=field(body, "name", str, required=False, default=""),
        limits=_body_limits(body, Limits()),
        scopes=parse_scopes(body["scopes"]) if body.get("scopes") is not None else (),
    )
    names = await _account_names(gw)
    return json_response({"data": {**key_data(row, 0, names.get(row.account_id)), "key": key}}, status=201)


async def listing(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    rows = await run_store(gw.db.list_keys)
    spent = await _month_spent(gw)
    names = await _account_names(gw)
    return json_response(
        {"data": [key_data(r, spent.get(r.prefix, 0), names.get(r.account_id)) for r in rows]}
    )


async def own(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    spent = await _month_spent(gw)
    names = await _account_names(gw)
    return json_response({"data": key_data(key, spent.get(key.prefix, 0), names.get(key.account_id))})


async def update(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    row = await update_key_from(request, gw, _body_limits)
    spent = await _month_spent(gw)
    names = await _account_names(gw)
    return json_response({"data": key_data(row, spent.get(row.prefix, 0), names.get(row.account_id))})


async def delete(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    prefix = request.match_info["prefix"]
    await run_store(gw.db.delete_key, prefix, origin=gw.sync.origin)
    gw.keys.remove(prefix)
    return json_response({"data": {"prefix": prefix, "deleted": True}})


async def _account_names(gw: Gateway) -> dict[int, str]:
    return {a.id: a.name for a in await run_store(gw.db.list_accounts)}
