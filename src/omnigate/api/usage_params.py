"""Query parameters of the usage, log and billing routes: whose data, which time range, which
page. Each wrong parameter is a 400 that names it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from omnigate.api.admin import run_store
from omnigate.errors import ApiError, bad_request
from omnigate.gateway import Gateway
from omnigate.store.rows import AccountRow, KeyRow
from omnigate.store.timestamps import now

PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
MAX_RANGE = timedelta(days=92)
MAX_PAGE = 100
DEFAULT_PAGE = 20
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime  # exclusive
    tz: ZoneInfo


async def subject(gw: Gateway, request: web.Request, key: KeyRow) -> AccountRow:
    """The account whose data is asked for: the key's own, or with an admin key any `account=`."""
    own = await run_store(gw.db.account, key.account_id)
    name = request.query.get("account")
    if name is None or name == own.name:
        return own
    if not key.admin:
        raise ApiError(
            403,
            "account: only an admin key can read another account's data.",
            code="admin_key_required",
            param="account",
        )
    return await run_store(gw.db.account, name)


def time_zone(query: Mapping[str, str]) -> ZoneInfo:
    name = query.get("tz", "UTC")
    try:
        return ZoneInfo(name) if name else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # a folder, a NUL, "..": no zone
        raise bad_request(
            f"tz: {name!r} is not an IANA time zone (for example UTC or Europe/Berlin).", param="tz"
        ) from exc


def time_range(query: Mapping[str, str], *, default: str | None) -> TimeRange | None:
    """`period` (24h, 7d) or `start` + `end` (ISO 8601 dates or times, at most 92 days apart); with
    neither, `default`'s period (None: no range)."""
    tz = time_zone(query)
    period = query.get("period")
    start_text, end_text = query.get("start"), query.get("end")
    if period is not None:
        if start_text is not None or end_text is not None:
            raise bad_request("period: give either period or start and end, not both.", param="period")
        if period not in PERIODS:
            raise bad_request(
                f"period: expected one of {', '.join(PERIODS)}, got {period!r}.", param="period"
            )
    elif start_text is None and end_text is None:
        if default is None:
            return None
        period = default
    if period is not None:
        end = now()
        return TimeRange(end - PERIODS[period], end, tz)
    if start_text is None:
        raise bad_request("start: Required with end.", param="start")
    if end_text is None:
        raise bad_request("end: Required with start.", param="end")
    # Stored times are UTC (SQLite compares them as text): every bound is given in UTC.
    start = _moment(start_text, "start", tz, end_of_day=False)
    end = _moment(end_text, "end", tz, end_of_day=True)
    if end <= start:
        raise bad_request("end: must come after start.", param="end")
    if end - start > MAX_RANGE:
        raise bad_request("end: start and end can be at most 92 days apart.", param="end")
    return TimeRange(start, end, tz)


def _moment(text: str, name: str, tz: ZoneInfo, *, end_of_day: bool) -> datetime:
    """A time, or a date: its first moment (start) or the first moment after it (end), in `tz`."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end_of_day:
                day += timedelta(days=1)
            moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # not a time, or one outside years 1-9999 in UTC
        raise bad_request(
            f"{name}: {text!r} is not an ISO 8601 date (2026-12-01) or time (2026-12-01T08:00:00Z).",
            param=name,
        ) from exc


def page_size(query: Mapping[str, str]) -> int:
    text = query.get("limit")
    if text is None:
        return DEFAULT_PAGE
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise bad_request(
            f"limit: expected a whole number from 1 to {MAX_PAGE}, got {text!r}.", param="limit"
        )
    return int(text)


def encode_cursor(*parts: str | int) -> str:
    raw = "|".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: Mapping[str, str], count: int) -> list[str] | None:
    """The parts of the `cursor` a previous page gave (None: the first page)."""
    text = query.get("cursor")
    if text is None or text == "":
        return None
    try:
        parts = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = []
    if len(parts) != count:
        raise bad_cursor()
    return parts


def cursor_id(text: str) -> int:
    """A row id from a cursor: a whole number that fits the database's 64-bit ids."""
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**63:
        raise bad_cursor()
    return int(text)


def bad_cursor() -> ApiError:
    return bad_request("cursor: not a cursor this route gave; pass next_cursor as it came.", param="cursor")


def key_prefix(query: Mapping[str, str]) -> str | None:
    prefix = query.get("key_prefix")
    if prefix is not None and (not 1 <= len(prefix) <= 32 or "\x00" in prefix):
        raise bad_request("key_prefix: expected a key's prefix (up to 32 characters).", param="key_prefix")
    return prefix or None
