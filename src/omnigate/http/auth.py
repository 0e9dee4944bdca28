"""Bearer-key authentication against an in-memory copy of the key table.

The cache holds key hashes only. A presented key is hashed and looked up by its hash, then the
stored hash is compared with `hmac.compare_digest`, so no timing difference leaks how much of a
key was right. The sync loop keeps the cache in step with the database (omnigate/sync.py).

A key the cache does not know is looked up in the database once, so a key is usable the moment
`omnigate keys create` (or another server) returns it. Misses are remembered for a while and
lookups are rationed, so a flood of made-up keys cannot reach the database.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable

from omnigate.errors import ApiError, invalid_key
from omnigate.store.keys import KEY_PREFIX, hash_key
from omnigate.store.rows import KeyRow, Limits

log = logging.getLogger(__name__)
# What new_key() makes: the prefix and 43 URL-safe characters; anything else is never looked up.
_KEY_SHAPE = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
MISS_TTL_S = 60.0
MAX_MISSES_KEPT = 100_000
# Database lookups for unknown keys: at most this many a second (a burst of as many is allowed).
LOOKUPS_PER_S = 50.0

Lookup = Callable[[str], Awaitable[KeyRow | None]]


class KeyCache:
    def __init__(self) -> None:
        self._by_hash: dict[str, KeyRow] = {}
        self._hash_by_prefix: dict[str, str] = {}
        self._misses: dict[str, float] = {}  # key hash → when the miss stops counting
        self._in_flight: dict[str, asyncio.Future[KeyRow | None]] = {}
        self._lookup_tat = 0.0
        self.lookups = 0  # database lookups of unknown keys so far
        self.lookup: Lookup | None = None  # set by the gateway: StateSync.lookup_key

    def put(self, row: KeyRow) -> None:
        old_hash = self._hash_by_prefix.get(row.prefix)
        if old_hash is not None and old_hash != row.key_hash:
            self._by_hash.pop(old_hash, None)
        self._by_hash[row.key_hash] = row
        self._hash_by_prefix[row.prefix] = row.key_hash
        self._misses.pop(row.key_hash, None)

    def remove(self, prefix: str) -> None:
        key_hash = self._hash_by_prefix.pop(prefix, None)
        if key_hash is not None:
            self._by_hash.pop(key_hash, None)

    def limits_of(self, prefix: str) -> Limits | None:
        row = self.by_prefix(prefix)
        return row.limits if row is not None else None

    def by_prefix(self, prefix: str) -> KeyRow | None:
        """A known key by its prefix (work the task runner does on a key's behalf)."""
        key_hash = self._hash_by_prefix.get(prefix)
        return self._by_hash.get(key_hash) if key_hash else None

    def __len__(self) -> int:
        return len(self._by_hash)

    async def authenticate(self, authorization: str | None) -> KeyRow:
        """Return the key row for an `Authorization: Bearer <key>` header, or raise 401."""
        if not authorization:
            raise invalid_key()
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise invalid_key()
        key = key.strip()
        if not key.isascii():  # keys are ASCII; a header of other bytes cannot be one
            raise invalid_key()
        digest = hash_key(key)
        row = self._by_hash.get(digest)
        if row is None:
            row = await self._look_up(key, digest)
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.disabled:
            raise invalid_key()
        return row

    async def authenticate_admin(self, authorization: str | None) -> KeyRow:
        row = await self.authenticate(authorization)
        if not row.admin:
            raise ApiError(403, "This route needs an admin key.", code="admin_key_required")
        return row

    async def _look_up(self, key: str, digest: str) -> KeyRow | None:
        if self.lookup is None or not _KEY_SHAPE.fullmatch(key):
            return None
        now = time.monotonic()
        if self._misses.get(digest, 0.0) > now:
            return None
        pending = self._in_flight.get(digest)
        if pending is not None:  # the same unknown key, asked for again while it is looked up
            return await asyncio.shield(pending)
        if not self._may_look_up(now):
            return None
        future: asyncio.Future[KeyRow | None] = asyncio.get_running_loop().create_future()
        self._in_flight[digest] = future
        self.lookups += 1
        try:
            row = await self.lookup(digest)
        except Exception as exc:
            log.warning("looking up an unknown key failed: %s", exc)
            error = ApiError(
                503,
                "Service unavailable: the key store did not answer; try again.",
                code="key_store_unavailable",
            )
            future.set_exception(error)
            future.exception()  # marked as seen: waiters re-raise it, nobody else must log it
            raise error from exc
        else:
            future.set_result(row)
        finally:
            del self._in_flight[digest]
        if row is None:
            if len(self._misses) >= MAX_MISSES_KEPT:
                self._misses.clear()
            self._misses[digest] = now + MISS_TTL_S
        return row

    def _may_look_up(self, now: float) -> bool:
        """A GCRA bucket of LOOKUPS_PER_S; beyond it, an unknown key is refused unseen."""
        interval = 1.0 / LOOKUPS_PER_S
        if self._lookup_tat - now > 1.0 - interval:
            return False
        self._lookup_tat = max(self._lookup_tat, now) + interval
        return True
