"""The billing routes: GET /v1/billing/balance (the caller's balance in credits, 1 USD =
2,000,000), GET /v2/billing (the balance in USD) and /v2/billing/transactions (the ledger, paged).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from omnigate.api.admin import json_response
from omnigate.api.usage_params import cursor_id, decode_cursor, encode_cursor, page_size, subject
from omnigate.billing.pricing import CREDITS_PER_USD
from omnigate.gateway import GATEWAY
from omnigate.store.rows import LedgerEntry


async def balance(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    account = await gw.book.view(key.account_id)
    credits = account.balance
    low = credits < account.low_balance_threshold
    body = {
        "balance": credits,
        "lowBalance": low,
        "lowBalanceThreshold": account.low_balance_threshold,
        "lastUpdated": account.updated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "autoDebitStatus": "disabled",
        "status": "low" if low else "current",
        "statusExplanation": (
            "Balance is below the low-balance threshold" if low else "Balance is current and up to date"
        ),
    }
    return json_response(body)


async def billing(request: web.Request) -> web.Response:
    """GET /v2/billing: the balance in USD, as the service shows it, and in credits."""
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    account = await subject(gw, request, key)
    credits, threshold = account.balance, account.low_balance_threshold
    if account.id in gw.book.accounts:  # the live balance: charges not in the database yet count
        view = await gw.book.view(account.id)
        credits, threshold = view.balance, view.low_balance_threshold
    body = {
        "current_balance": credits / CREDITS_PER_USD,
        "currency": "USD",
        "credits": credits,
        "low_balance": credits < threshold,
        "account": account.name,
    }
    return json_response(body)


async def transactions(request: web.Request) -> web.Response:
    """GET /v2/billing/transactions: the account's ledger (charges, refunds, top-ups), newest
    first, a page at a time (`limit` 1-100, `cursor` from the previous page)."""
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    limit = page_size(request.query)
    parts = decode_cursor(request.query, 1)
    before_id = cursor_id(parts[0]) if parts else None
    account = await subject(gw, request, key)
    rows = await asyncio.to_thread(gw.db.ledger_page, account.id, limit=limit + 1, before_id=before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    body = {
        "object": "list",
        "account": account.name,
        "data": [_transaction(row_id, entry) for row_id, entry in rows],
        "pagination": {"next_cursor": encode_cursor(rows[-1][0]) if more else None, "has_more": more},
    }
    return json_response(body)


def _transaction(row_id: int, entry: LedgerEntry) -> dict:
    return {
        "id": row_id,
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "credits": entry.amount,
        "amount": entry.amount / CREDITS_PER_USD,
        "key_prefix": entry.key_prefix,
        "model": entry.model,
        "request_id": entry.request_id,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "note": entry.note,
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
    }
