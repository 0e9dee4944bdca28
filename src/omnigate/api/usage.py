"""GET /v2/usage, /v2/usage/detail and /v2/logs: what an account's keys asked for and used, read
from the request log (store/request_log.py), failures included.

A user key reads its own account; an admin key reads any account named by `account=`. Sums cover
at most 92 days and are grouped by local day (in `tz`), by model, or both; the detail splits every
group by key as well. The log is paged newest first with an opaque cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from omnigate.api.admin import json_response
from omnigate.api.usage_params import (
    TimeRange,
    bad_cursor,
    cursor_id,
    decode_cursor,
    encode_cursor,
    key_prefix,
    page_size,
    subject,
    time_range,
)
from omnigate.billing.pricing import CREDITS_PER_USD
from omnigate.errors import bad_request
from omnigate.gateway import GATEWAY
from omnigate.store.request_log import LogCursor
from omnigate.store.rows import LoggedRequest, UsageSum

GROUPINGS = {
    "day": (True, False),
    "model": (False, True),
    "day,model": (True, True),
    "model,day": (True, True),
}
_SUMS = ("requests", "failed", "prompt_tokens", "completion_tokens", "credits")


async def usage(request: web.Request) -> web.Response:
    return await _usage(request, by_key=False)


async def usage_detail(request: web.Request) -> web.Response:
    return await _usage(request, by_key=True)


async def _usage(request: web.Request, *, by_key: bool) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    query = request.query
    group_by = query.get("group_by") or None
    if group_by is not None and group_by not in GROUPINGS:
        raise bad_request("group_by: expected day, model or day,model.", param="group_by")
    by_day, by_model = GROUPINGS[group_by] if group_by else (False, False)
    span = time_range(query, default="24h")
    assert span is not None
    prefix = key_prefix(query)
    account = await subject(gw, request, key)
    bucket_s = _bucket_seconds(span) if by_day else None
    sums = await asyncio.to_thread(
        gw.db.usage_sums,
        account.id,
        span.start,
        span.end,
        key_prefix=prefix,
        bucket_s=bucket_s,
        by_model=by_model,
        by_key=by_key,
    )
    groups: dict[tuple, dict[str, Any]] = {}
    for found in sums:
        labels: dict[str, Any] = {}
        if bucket_s is not None:
            labels["day"] = _local_day(found, bucket_s, span.tz)
        if by_model:
            labels["model"] = found.model
        if by_key:
            labels["key_prefix"] = found.key_prefix
        group = groups.setdefault(tuple(labels.values()), {**labels, **dict.fromkeys(_SUMS, 0)})
        _add(group, found)
    data = [_with_usd(groups[k]) for k in sorted(groups, key=lambda k: tuple(str(v) for v in k))]
    totals = dict.fromkeys(_SUMS, 0)
    for row in data:
        for name in _SUMS:
            totals[name] += row[name]
    return json_response(
        {
            "object": "usage",
            "account": account.name,
            "start": _iso(span.start),
            "end": _iso(span.end),
            "tz": str(span.tz),
            "key_prefix": prefix,
            "group_by": "day,model" if group_by == "model,day" else group_by,
            "totals": _with_usd(totals),
            "data": data,
        }
    )


async def logs(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await gw.keys.authenticate(request.headers.get("Authorization"))
    query = request.query
    limit = page_size(query)
    span = time_range(query, default=None)
    prefix = key_prefix(query)
    after = _log_cursor(query)
    account = await subject(gw, request, key)
    # One row more than asked tells whether another page follows.
    rows = await asyncio.to_thread(
        gw.db.request_log_page,
        account.id,
        limit=limit + 1,
        after=after,
        key_prefix=prefix,
        start=span.start if span else None,
        end=span.end if span else None,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    cursor = encode_cursor(last.created_at.isoformat(), last.id or 0) if last is not None else None
    return json_response(
        {
            "object": "list",
            "account": account.name,
            "data": [log_view(r) for r in rows],
            "pagination": {"next_cursor": cursor, "has_more": more},
        }
    )


def log_view(row: LoggedRequest) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "created_at": _iso(row.created_at),
        "key_prefix": row.key_prefix,
        "method": row.method,
        "route": row.route,
        "model": row.model,
        "provider": row.provider,
        "status": row.status,
        "error_code": row.error_code,
        "stream": row.stream,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "credits": row.credits,
        "usd_spent": row.credits / CREDITS_PER_USD,
        "duration_ms": row.duration_ms,
        "ttft_ms": row.ttft_ms,
        "overhead_ms": row.overhead_ms,
    }


def _log_cursor(query: Mapping[str, str]) -> LogCursor | None:
    parts = decode_cursor(query, 2)
    if parts is None:
        return None
    try:
        created_at = datetime.fromisoformat(parts[0]).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise bad_cursor() from exc
    return LogCursor(created_at, cursor_id(parts[1]))


def _bucket_seconds(span: TimeRange) -> int:
    """The largest bucket (an hour, else 15 or 1 minutes) that never straddles a local midnight
    of `tz` over the range: it must divide every UTC offset the zone has in it."""
    offsets = set()
    moment = span.start
    while True:
        offset = moment.astimezone(span.tz).utcoffset()
        offsets.add(int(offset.total_seconds()) if offset is not None else 0)
        if moment >= span.end:
            break
        moment = min(moment + timedelta(hours=12), span.end)
    for size in (3600, 900, 60):
        if all(o % size == 0 for o in offsets):
            return size
    return 1


def _local_day(found: UsageSum, bucket_s: int, tz: ZoneInfo) -> str:
    assert found.bucket is not None
    return datetime.fromtimestamp(found.bucket * bucket_s, tz).date().isoformat()


def _add(group: dict[str, Any], found: UsageSum) -> None:
    for name in _SUMS:
        group[name] += getattr(found, name)


def _with_usd(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "usd_spent": row["credits"] / CREDITS_PER_USD}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
