"""The real gateway app on a real socket, for tests that talk to it over HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from omnigate.app import create_app
from omnigate.catalog.loader import Catalog
from omnigate.gateway import Gateway
from omnigate.settings import Settings
from omnigate.store.db import Database
from omnigate.store.rows import AccountRow


@contextlib.asynccontextmanager
async def serve(settings: Settings, catalog: Catalog | None = None) -> AsyncIterator[tuple[Gateway, str]]:
    """Yields the gateway and its root URL (`http://127.0.0.1:<port>`), served as `omnigate serve`
    serves it (same app, no per-handler tasks)."""
    gateway = Gateway.build(settings, catalog)
    runner = web.AppRunner(create_app(gateway))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield gateway, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def funded_account(
    database_url: str, credits: int, *, name: str = "team", low_balance_threshold: int = 1000
) -> tuple[Database, AccountRow, str]:
    """A migrated database holding one account with `credits`, and a (non-admin) key for it."""
    db = Database(database_url)
    db.upgrade()
    account = db.create_account(name, low_balance_threshold=low_balance_threshold, origin="test")
    db.top_up(name, credits, origin="test")
    key, _ = db.create_key(name, admin=False, origin="test")
    return db, account, key
