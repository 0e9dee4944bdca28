"""Admin routes (an admin key is required): accounts, top-ups, keys and their limits over HTTP.

The same operations as `omnigate accounts|keys ...`. Each writes to the database, records a change
for the other servers, and takes the result into this server's caches at once. The service's own
key routes (/v1/keys) are in api/keys.py and share the helpers here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from omnigate.api.common import read_json
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request, not_found
from omnigate.gateway import GATEWAY, Gateway
from omnigate.http.scopes import SCOPES
from omnigate.store.db import StoreError
from omnigate.store.rows import BUDGET_PERIODS, NO_LIMITS, AccountRow, KeyRow, Limits

# Credits in one field: a million million USD, far beyond any real balance and well inside the
# database's 64-bit integers.
MAX_CREDITS = 2 * 10**18
# An Idempotency-Key makes a retried top-up count once; it becomes part of the ledger entry id.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def account_view(row: AccountRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "balance": row.balance,
        "low_balance_threshold": row.low_balance_threshold,
        "updated_at": row.updated_at.isoformat(),
        "limits": row.limits.fields(),
    }


def key_view(row: KeyRow, account_name: str | None = None) -> dict[str, Any]:
    return {
        "prefix": row.prefix,
        "name": row.name,
        "account_id": row.account_id,
        "account": account_name,
        "admin": row.admin,
        "disabled": row.disabled,
        "created_at": row.created_at.isoformat(),
        "scopes": list(row.scopes),
        "limits": row.limits.fields(),
    }


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def admin_gateway(request: web.Request) -> Gateway:
    gw = request.app[GATEWAY]
    await gw.keys.authenticate_admin(request.headers.get("Authorization"))
    return gw


async def run_store(fn, *args, **kwargs):
    """Run a store call in a thread; refusals become 4xx errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except StoreError as exc:
        message = str(exc)
        if "does not exist" in message or "no key has" in message:
            raise not_found(message) from exc
        if "already exists" in message:
            raise ApiError(409, message, code="conflict") from exc
        raise bad_request(message) from exc


def field(body: dict, name: str, kind: type, *, required: bool = True, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        if required:
            raise bad_request(f"{BODY_VALIDATION} {name}: Required", param=name)
        return default
    # bool is an int in Python; a JSON true is not a number of credits.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"{BODY_VALIDATION} {name}: Expected {kind.__name__}", param=name)
    if kind is int and not -MAX_CREDITS <= value <= MAX_CREDITS:
        raise bad_request(f"{BODY_VALIDATION} {name}: Expected a number within ±{MAX_CREDITS}", param=name)
    return value


def parse_limits(body: dict, current: Limits = NO_LIMITS, *, path: str = "") -> Limits:
    """The limits a body sets over `current`: a field left out keeps its value, null removes it."""
    changes: dict[str, Any] = {}
    for name, least in (("rpm", 1), ("tpm", 1), ("concurrency", 1), ("budget", 0)):
        if name in body:
            changes[name] = _count_or_none(body[name], path + name, least)
    if "budget_period" in body:
        period = body["budget_period"]
        if period not in BUDGET_PERIODS:
            raise bad_request(
                f"{BODY_VALIDATION} {path}budget_period: Expected one of {', '.join(BUDGET_PERIODS)}",
                param=path + "budget_period",
            )
        changes["budget_period"] = period
    return dataclasses.replace(current, **changes)


def _count_or_none(value: Any, name: str, least: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < least or value >= 2**53:
        raise bad_request(f"{BODY_VALIDATION} {name}: Expected an integer >= {least}, or null", param=name)
    return value


def parse_scopes(value: Any, name: str = "scopes") -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) and s in SCOPES for s in value):
        raise bad_request(f"{BODY_VALIDATION} {name}: Expected an array of {', '.join(SCOPES)}", param=name)
    return tuple(dict.fromkeys(value))


# -- accounts ---------------------------------------------------------------------------------
async def create_account(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    body, _ = await read_json(request)
    name = field(body, "name", str)
    threshold = field(
        body,
        "low_balance_threshold",
        int,
        required=False,
        default=gw.settings.billing.low_balance_threshold,
    )
    row = await run_store(
        gw.db.create_account,
        name,
        low_balance_threshold=threshold,
        origin=gw.sync.origin,
        limits=parse_limits(body),
    )
    await gw.sync.refresh_account(row.id)
    return json_response(account_view(row), status=201)


async def list_accounts(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    rows = await run_store(gw.db.list_accounts)
    return json_response({"object": "list", "data": [account_view(r) for r in rows]})


async def show_account(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    row = await run_store(gw.db.account, request.match_info["name"])
    return json_response(account_view(row))


async def update_account(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    body, _ = await read_json(request)
    current = await run_store(gw.db.account, request.match_info["name"])
    limits = parse_limits(body, current.limits)
    row = await run_store(gw.db.set_account_limits, current.id, limits, origin=gw.sync.origin)
    await gw.sync.refresh_account(row.id)
    return json_response(account_view(row))


async def top_up(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    body, _ = await read_json(request)
    credits = field(body, "credits", int)
    note = field(body, "note", str, required=False)
    account = await run_store(gw.db.account, request.match_info["name"])
    entry_id = None
    if (idempotency_key := request.headers.get("Idempotency-Key")) is not None:
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise bad_request("Idempotency-Key: Expected 1-64 characters of A-Z a-z 0-9 . _ : -")
        entry_id = f"topup-{account.id}-{idempotency_key}"
    row, applied = await run_store(
        gw.db.top_up, account.id, credits, origin=gw.sync.origin, note=note, entry_id=entry_id
    )
    if applied:
        await gw.book.topped_up(row, credits)
    row = await gw.sync.refresh_account(row.id)
    return json_response({**account_view(row), "applied": applied})


# -- keys -------------------------------------------------------------------------------------
async def create_key(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    body, _ = await read_json(request)
    account = field(body, "account", str, required=False, default="default")
    key, row = await new_key(
        gw,
        account,
        admin=field(body, "admin", bool, required=False, default=False),
        name=field(body, "name", str, required=False, default=""),
        limits=parse_limits(body),
        scopes=parse_scopes(body["scopes"]) if body.get("scopes") is not None else (),
    )
    # The only time the key exists in clear text.
    return json_response({"key": key, **key_view(row, account)}, status=201)


async def new_key(
    gw: Gateway, account: str | int, *, admin: bool, name: str, limits: Limits, scopes: tuple[str, ...]
) -> tuple[str, KeyRow]:
    key, row = await run_store(
        gw.db.create_key, account, admin=admin, name=name, origin=gw.sync.origin, limits=limits, scopes=scopes
    )
    await gw.sync.take_in_key(row)
    return key, row


async def list_keys(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    rows = await run_store(gw.db.list_keys)
    names = {a.id: a.name for a in await run_store(gw.db.list_accounts)}
    return json_response({"object": "list", "data": [key_view(r, names.get(r.account_id)) for r in rows]})


async def update_key(request: web.Request) -> web.Response:
    gw = await admin_gateway(request)
    return json_response(key_view(await update_key_from(request, gw, parse_limits)))


async def update_key_from(
    request: web.Request, gw: Gateway, read_limits: Callable[[dict, Limits], Limits]
) -> KeyRow:
    """Change the key the path names as the body says; `read_limits` reads the body's limits
    (flat here, the service's shape in /v1/keys) over the key's current ones."""
    body, _ = await read_json(request)
    current = await run_store(gw.db.key, request.match_info["prefix"])
    return await change_key(
        gw,
        current,
        name=field(body, "name", str, required=False),
        disabled=field(body, "disabled", bool, required=False),
        limits=read_limits(body, current.limits),
        scopes=parse_scopes(body["scopes"]) if body.get("scopes") is not None else None,
    )


async def change_key(gw: Gateway, current: KeyRow, **changes: Any) -> KeyRow:
    row = await run_store(gw.db.update_key, current.prefix, origin=gw.sync.origin, **changes)
    await gw.sync.take_in_key(row)
    return row


async def disable_key(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


async def enable_key(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    gw = await admin_gateway(request)
    current = await run_store(gw.db.key, request.match_info["prefix"])
    return json_response(key_view(await change_key(gw, current, disabled=disabled)))
