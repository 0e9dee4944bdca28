"""Timestamps as the store keeps them: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def aware(stamp: datetime) -> datetime:
    # SQLite returns naive datetimes; everything we store is UTC.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
