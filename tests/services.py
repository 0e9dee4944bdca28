"""Probes for the outside services some tests need, so each test module can skip without them."""

from __future__ import annotations

import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_missing() -> str | None:
    """Why Redis cannot be used (for a skip reason), or None when it answers a ping."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return None
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable ({type(exc).__name__})"
