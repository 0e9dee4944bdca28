"""The outside services some tests need: probes (so a module can skip, saying what is missing)
and fresh, isolated places in them (a PostgreSQL schema, a Redis key prefix) for each test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import redis
from sqlalchemy import create_engine, text

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_POSTGRES_DRIVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def redis_missing() -> str | None:
    """Why Redis cannot be used (for a skip reason), or None when it answers a ping."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return None
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable ({type(exc).__name__})"


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be used (for a skip reason), or None when it answers."""
    try:
        engine = create_engine(_POSTGRES_DRIVER_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return f"PostgreSQL at 127.0.0.1:5432/test is not reachable ({type(exc).__name__})"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables live in a schema of their own, dropped afterwards: runs stay
    independent without touching shared tables."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_POSTGRES_DRIVER_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield POSTGRES_URL + f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own in the shared Redis, cleared afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
