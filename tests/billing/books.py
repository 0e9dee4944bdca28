"""Rows and usage records for the credit book tests."""

from __future__ import annotations

from datetime import UTC, datetime

from omnigate.billing.book import Usage
from omnigate.store.rows import NO_LIMITS, AccountRow, KeyRow, Limits

USAGE = Usage(key_prefix="og-k", model="m", request_id="r", prompt_tokens=1, completion_tokens=1)


def account_row(balance: int, *, account_id: int = 1, limits: Limits = NO_LIMITS) -> AccountRow:
    return AccountRow(
        id=account_id,
        name=f"a{account_id}",
        balance=balance,
        low_balance_threshold=0,
        updated_at=datetime.now(UTC),
        limits=limits,
    )


def key_row(prefix: str = "og-k", *, account_id: int = 1, limits: Limits = NO_LIMITS) -> KeyRow:
    return KeyRow(
        id=1,
        account_id=account_id,
        prefix=prefix,
        key_hash=prefix,
        name="",
        admin=False,
        disabled=False,
        created_at=datetime.now(UTC),
        limits=limits,
    )


KEY = key_row()


def usage(tokens: int = 2, prefix: str = "og-k") -> Usage:
    return Usage(key_prefix=prefix, model="m", request_id="r", prompt_tokens=tokens, completion_tokens=0)
