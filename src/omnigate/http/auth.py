"""Bearer-key authentication against an in-memory copy of the key table.

The cache holds key hashes only. A presented key is hashed and looked up by its hash, then the
stored hash is compared with `hmac.compare_digest`, so no timing difference leaks how much of a
key was right. The sync loop keeps the cache in step with the database (store/sync.py).
"""

from __future__ import annotations

import hmac

from omnigate.errors import ApiError, invalid_key
from omnigate.store.db import KeyRow
from omnigate.store.keys import hash_key


class KeyCache:
    def __init__(self) -> None:
        self._by_hash: dict[str, KeyRow] = {}
        self._hash_by_prefix: dict[str, str] = {}

    def put(self, row: KeyRow) -> None:
        old_hash = self._hash_by_prefix.get(row.prefix)
        if old_hash is not None and old_hash != row.key_hash:
            self._by_hash.pop(old_hash, None)
        self._by_hash[row.key_hash] = row
        self._hash_by_prefix[row.prefix] = row.key_hash

    def __len__(self) -> int:
        return len(self._by_hash)

    def authenticate(self, authorization: str | None) -> KeyRow:
        """Return the key row for an `Authorization: Bearer <key>` header, or raise 401."""
        if not authorization:
            raise invalid_key()
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise invalid_key()
        digest = hash_key(key.strip())
        row = self._by_hash.get(digest)
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.disabled:
            raise invalid_key()
        return row

    def authenticate_admin(self, authorization: str | None) -> KeyRow:
        row = self.authenticate(authorization)
        if not row.admin:
            raise ApiError(403, "This route needs an admin key.", code="admin_key_required")
        return row
