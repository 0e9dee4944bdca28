"""Rate limits and budgets for one key or one account, as this process counts them.

- Requests per minute: a GCRA ("generic cell rate") bucket, which allows `rpm` requests at once
  and then one every 60/rpm seconds; no window edge lets twice the rate through.
- Tokens per minute: the same bucket, charged after the answer with the tokens it used (they are
  unknown before); a request is admitted while the tokens of the last minute are under `tpm`.
- Concurrency: requests in flight.
- Budget: credits charged in the current day, ISO week or month (UTC), or in total; a request is
  admitted when its worst case fits in what is left, counting what requests in flight hold.

The Redis book keeps the same state in Redis with the same rules (billing/redis_scripts.py), so
the limits hold across workers and replicas; the property tests check both books alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from omnigate.store.rows import Limits

MINUTE_S = 60.0
_ADVERB = {"day": "daily", "week": "weekly", "month": "monthly"}


class LimitExceeded(Exception):
    """A limit refused the request: 429 with Retry-After, or 403 when waiting cannot help."""

    def __init__(self, message: str, *, retry_after_s: float | None, status: int = 429) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s
        self.status = status


@dataclass(frozen=True, slots=True)
class Period:
    stamp: str  # names the period: "d2026-11-29", "w2026-11-23", "m2026-11", "total"
    start: datetime | None
    end: datetime | None


# The last period computed of each kind, with its bounds as timestamps.
_current: dict[str, tuple[Period, float, float]] = {}


def current_period(kind: str, now: float) -> Period:
    """`budget_period` for the timestamp `now`, remembered until the period ends: the request
    path asks for it on every request of a budgeted key."""
    found = _current.get(kind)
    if found is None or not found[1] <= now < found[2]:
        period = budget_period(kind, datetime.fromtimestamp(now, UTC))
        bounds = (0.0, float("inf"))
        if period.start and period.end:
            bounds = (period.start.timestamp(), period.end.timestamp())
        found = _current[kind] = (period, *bounds)
    return found[0]


def budget_period(kind: str, at: datetime) -> Period:
    """The budget period of kind `kind` that `at` falls in (UTC)."""
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    if kind == "day":
        return Period(f"d{day:%Y-%m-%d}", day, day + timedelta(days=1))
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(f"w{monday:%Y-%m-%d}", monday, monday + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return Period(f"m{start:%Y-%m}", start, end)
    return Period("total", None, None)


@dataclass(slots=True)
class Meter:
    """What one key or account is using now, in this process."""

    in_flight: int = 0
    held: int = 0  # credits held by requests in flight
    spent: int = 0  # credits charged in `period`
    period: str = ""
    request_tat: float = 0.0  # GCRA: when the request bucket is next empty
    token_tat: float = 0.0


def check(meter: Meter, limits: Limits, amount: int, now: float, subject: str) -> None:
    """Raise LimitExceeded when one more request of worst case `amount` would break a limit."""
    if limits.concurrency is not None and meter.in_flight >= limits.concurrency:
        raise too_many_at_once(subject, limits)
    if limits.rpm is not None:
        wait = request_wait(meter.request_tat, limits.rpm, now)
        if wait > 0:
            raise too_many_requests(subject, limits, wait)
    if limits.tpm is not None:
        wait = meter.token_tat - now - MINUTE_S
        if wait > 0:
            raise too_many_tokens(subject, limits, wait)
    if limits.budget is not None and amount > 0:
        period = current_period(limits.budget_period, now)
        spent = meter.spent if meter.period == period.stamp else 0
        if spent + meter.held + amount > limits.budget:
            raise budget_exceeded(subject, limits, spent, amount, now)


def take(meter: Meter, limits: Limits, amount: int, now: float) -> None:
    """Count an admitted request (after `check` passed for every meter it touches)."""
    meter.in_flight += 1
    meter.held += amount
    if limits.rpm is not None:
        meter.request_tat = max(meter.request_tat, now) + MINUTE_S / limits.rpm


def give_back(meter: Meter, amount: int) -> None:
    """A request ended: its slot and hold are free."""
    meter.in_flight -= 1
    meter.held -= amount


def charge(meter: Meter, limits: Limits, credits: int, tokens: int, now: float) -> None:
    """Count what a finished request used against the budget and the token bucket."""
    if limits.budget is not None:
        period = current_period(limits.budget_period, now).stamp
        if meter.period != period:
            meter.period, meter.spent = period, 0
        meter.spent += credits
    if limits.tpm is not None and tokens > 0:
        meter.token_tat = max(meter.token_tat, now) + tokens * MINUTE_S / limits.tpm


def request_wait(tat: float, rpm: int, now: float) -> float:
    """Seconds until the request bucket has room (0 or less: it has room now)."""
    interval = MINUTE_S / rpm
    return tat - now - (MINUTE_S - interval)


def too_many_at_once(subject: str, limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        f"Too Many Requests: {subject} allows {limits.concurrency} requests at once.", retry_after_s=1.0
    )


def too_many_requests(subject: str, limits: Limits, wait_s: float) -> LimitExceeded:
    return LimitExceeded(
        f"Too Many Requests: {subject} allows {limits.rpm} requests per minute.", retry_after_s=wait_s
    )


def too_many_tokens(subject: str, limits: Limits, wait_s: float) -> LimitExceeded:
    return LimitExceeded(
        f"Too Many Requests: {subject} allows {limits.tpm} tokens per minute.", retry_after_s=wait_s
    )


def budget_exceeded(subject: str, limits: Limits, spent: int, amount: int, now: float) -> LimitExceeded:
    period = current_period(limits.budget_period, now)
    left = max((limits.budget or 0) - spent, 0)
    detail = f"{left} of its {limits.budget} credits are left and this request may cost up to {amount}"
    if period.end is None:
        return LimitExceeded(
            f"{subject} has reached its spending limit: {detail}. An admin can raise the limit.",
            retry_after_s=None,
            status=403,
        )
    wait = math.ceil(period.end.timestamp() - now)
    return LimitExceeded(
        f"Too Many Requests: {subject} has reached its {_ADVERB[limits.budget_period]} spending limit: "
        f"{detail}. The limit renews in {wait} s.",
        retry_after_s=wait,
    )
