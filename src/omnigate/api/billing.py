"""GET /v1/billing/balance: the caller's account balance, in credits (1 USD = 2,000,000)."""

from __future__ import annotations

import orjson
from aiohttp import web

from omnigate.gateway import GATEWAY


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
    return web.Response(body=orjson.dumps(body), content_type="application/json")
