"""What each AI search found, by completion id (the follow-up routes read it): the search half of
`Database` (store/db.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select

from omnigate.store import schema
from omnigate.store.timestamps import aware, now


@dataclass(frozen=True, slots=True)
class StoredSearch:
    id: str
    account_id: int
    model: str
    query: str
    results: str  # JSON of search/results.py SearchResults
    created_at: datetime


class SearchResultStore:
    engine: Engine

    def save_search(self, *, search_id: str, account_id: int, model: str, query: str, results: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.search_results).values(
                    id=search_id,
                    account_id=account_id,
                    model=model,
                    # PostgreSQL refuses NUL characters in text; a query cannot need one.
                    query=query.replace("\x00", ""),
                    results=results,
                    created_at=now(),
                )
            )

    def stored_search(self, search_id: str) -> StoredSearch | None:
        if "\x00" in search_id:
            return None
        with self.engine.connect() as conn:
            r = conn.execute(
                select(schema.search_results).where(schema.search_results.c.id == search_id)
            ).first()
        if r is None:
            return None
        return StoredSearch(r.id, r.account_id, r.model, r.query, r.results, aware(r.created_at))
