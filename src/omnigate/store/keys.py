"""API key material: generation and hashing. Keys are never stored, only their sha256."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "og-"
# Shown in listings and used to disable a key; long enough to be unique in practice, far too
# short to help an attacker (the rest of the key holds 256 random bits).
VISIBLE_CHARS = 12


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_CHARS]
