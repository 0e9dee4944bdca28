"""Saving what a search found and reading it back for its account, off the event loop (the
database is synchronous SQLAlchemy)."""

from __future__ import annotations

import asyncio

import orjson

from omnigate.errors import not_found
from omnigate.search.results import SearchResults
from omnigate.store.search_results import SearchResultStore


class SearchStore:
    def __init__(self, db: SearchResultStore) -> None:
        self.db = db

    async def save(
        self, search_id: str, account_id: int, model: str, query: str, found: SearchResults
    ) -> None:
        results = orjson.dumps(found.to_dict()).decode()
        await asyncio.to_thread(
            self.db.save_search,
            search_id=search_id,
            account_id=account_id,
            model=model,
            query=query,
            results=results,
        )

    async def load(self, search_id: str, account_id: int) -> SearchResults:
        """The results of that completion, or 404 when it is unknown or another account's (the
        two answer alike: ids must not leak)."""
        row = await asyncio.to_thread(self.db.stored_search, search_id)
        if row is None or row.account_id != account_id:
            raise not_found(f"No search with followup_id '{search_id}' was found.", param="followup_id")
        return SearchResults.from_dict(orjson.loads(row.results))
