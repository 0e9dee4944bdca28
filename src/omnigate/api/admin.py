"""Admin routes (an admin key is required): accounts, top-ups and keys over HTTP.

The same operations as `omnigate accounts|keys ...`. Each writes to the database, records a change
for the other servers, and updates this server's caches at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from omnigate.api.common import read_json
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request, not_found
from omnigate.gateway import GATEWAY, Gateway
from omnigate.store.db import AccountRow, KeyRow, StoreError


def account_view(row: AccountRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "balance": row.balance,
        "low_balance_threshold": row.low_balance_threshold,
        "updated_at": row.updated_at.isoformat(),
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
    }


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _admin(request: web.Request) -> Gateway:
    gw = request.app[GATEWAY]
    gw.keys.authenticate_admin(request.headers.get("Authorization"))
    return gw


async def _run(fn, *args, **kwargs):
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


def _field(body: dict, name: str, kind: type, *, required: bool = True, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        if required:
            raise bad_request(f"{BODY_VALIDATION} {name}: Required", param=name)
        return default
    # bool is an int in Python; a JSON true is not a number of credits.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"{BODY_VALIDATION} {name}: Expected {kind.__name__}", param=name)
    return value


async def create_account(request: web.Request) -> web.Response:
    gw = _admin(request)
    body, _ = await read_json(request)
    name = _field(body, "name", str)
    threshold = _field(
        body,
        "low_balance_threshold",
        int,
        required=False,
        default=gw.settings.billing.low_balance_threshold,
    )
    row = await _run(gw.db.create_account, name, low_balance_threshold=threshold, origin=gw.sync.origin)
    gw.book.refresh(row)
    return _json(account_view(row), status=201)


async def list_accounts(request: web.Request) -> web.Response:
    gw = _admin(request)
    rows = await _run(gw.db.list_accounts)
    return _json({"object": "list", "data": [account_view(r) for r in rows]})


async def show_account(request: web.Request) -> web.Response:
    gw = _admin(request)
    row = await _run(gw.db.account, request.match_info["name"])
    return _json(account_view(row))


async def top_up(request: web.Request) -> web.Response:
    gw = _admin(request)
    body, _ = await read_json(request)
    credits = _field(body, "credits", int)
    note = _field(body, "note", str, required=False)
    row = await _run(gw.db.top_up, request.match_info["name"], credits, origin=gw.sync.origin, note=note)
    await gw.book.topped_up(row, credits)
    return _json(account_view(row))


async def create_key(request: web.Request) -> web.Response:
    gw = _admin(request)
    body, _ = await read_json(request)
    account = _field(body, "account", str, required=False, default="default")
    admin = _field(body, "admin", bool, required=False, default=False)
    name = _field(body, "name", str, required=False, default="")
    key, row = await _run(gw.db.create_key, account, admin=admin, name=name, origin=gw.sync.origin)
    gw.book.refresh(await _run(gw.db.account, row.account_id))
    gw.keys.put(row)
    # The only time the key exists in clear text.
    return _json({"key": key, **key_view(row, account)}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    gw = _admin(request)
    rows = await _run(gw.db.list_keys)
    names = {a.id: a.name for a in await _run(gw.db.list_accounts)}
    return _json({"object": "list", "data": [key_view(r, names.get(r.account_id)) for r in rows]})


async def disable_key(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


async def enable_key(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    gw = _admin(request)
    row = await _run(gw.db.set_key_disabled, request.match_info["prefix"], disabled, origin=gw.sync.origin)
    gw.keys.put(row)
    return _json(key_view(row))
