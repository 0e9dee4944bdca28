"""The store's tests run against real databases: SQLite always, PostgreSQL when it answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnigate.store.db import Database
from tests.services import postgres_missing, postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    with postgres_schema() as found:
        yield found


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    database.upgrade()
    yield database
    database.close()
