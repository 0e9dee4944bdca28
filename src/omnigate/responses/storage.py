"""Stored turns: saving one, and loading the chain a previous_response_id names.

Every database call runs in a thread: the store is synchronous SQLAlchemy and the event loop
must never wait on it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson

from omnigate.errors import not_found
from omnigate.store.db import Database, StoredResponse

# A bound on chain walks: a cycle cannot be written through the API, but a bound is cheap.
MAX_TURNS = 1000


def _missing(response_id: str) -> Exception:
    return not_found(f"Response with id '{response_id}' not found.", param="response_id")


async def load(db: Database, response_id: str, account_id: int) -> StoredResponse:
    """The stored turn, or 404 when it does not exist or belongs to another account."""
    row = await asyncio.to_thread(db.stored_response, response_id)
    # Another account's response answers exactly like a missing one: ids must not leak.
    if row is None or row.account_id != account_id:
        raise _missing(response_id)
    return row


async def history(db: Database, response_id: str, account_id: int) -> list[dict[str, Any]]:
    """Every earlier turn's input and output items, oldest first, ending with `response_id`."""
    return await asyncio.to_thread(_history, db, response_id, account_id)


def _history(db: Database, response_id: str, account_id: int) -> list[dict[str, Any]]:
    turns: list[list[dict[str, Any]]] = []
    current: str | None = response_id
    while current and len(turns) < MAX_TURNS:
        row = db.stored_response(current)
        if row is None or row.account_id != account_id:
            raise _missing(current)
        response = orjson.loads(row.output)
        turns.append(orjson.loads(row.input) + list(response.get("output") or ()))
        current = response.get("previous_response_id")
    return [item for turn in reversed(turns) for item in turn]


async def save(db: Database, account_id: int, response: dict[str, Any], items: list[dict[str, Any]]) -> None:
    row = StoredResponse(
        id=response["id"],
        account_id=account_id,
        model=response["model"],
        input=orjson.dumps(items).decode(),
        output=orjson.dumps(response).decode(),
        created_at=datetime.now(UTC),
    )
    await asyncio.to_thread(db.save_response, row)


async def delete(db: Database, response_id: str, account_id: int) -> bool:
    return await asyncio.to_thread(db.delete_response, response_id, account_id)
