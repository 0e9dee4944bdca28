"""Live balances, holds and limits in Redis, shared by every worker and replica.

One script call is on a request's path: RESERVE checks every limit and the balance and takes the
hold, atomically across processes (billing/redis_scripts.py). Settling costs no round trip: the
charge is computed here (the hold covers it), written to the outbox, and its application to the
Redis balance is queued; a background task sends the queued operations in one APPLY call per
batch. APPLY is idempotent (holds are given back by id, charges land by sequence number), so a
batch sent twice after a lost reply, or an outbox replayed after a crash, counts once.

Until its batch lands, a settled request's hold stays in Redis, so other workers see less credit
available for a few milliseconds, never more. The database stays the record: the ledger rows
and the balance they sum to; Redis starts each account from the database balance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from omnigate.billing import limits as lim
from omnigate.billing import redis_scripts as scripts
from omnigate.billing.book import (
    BalanceView,
    InsufficientCredits,
    LedgerQueue,
    Pending,
    Reservation,
    Usage,
)
from omnigate.billing.outbox import Outbox, Record
from omnigate.billing.resp import RespClient
from omnigate.store.rows import AccountRow, KeyRow, Limits

log = logging.getLogger(__name__)
HEARTBEAT_S = 5
HEARTBEAT_TTL_S = 20
# A Redis that does not answer in this time counts as unavailable: requests get a 503 at once
# instead of waiting with the client.
TIMEOUT_S = 2.0
MAX_OPS_PER_CALL = 500
# How long Redis remembers that a credit reached a balance: far longer than a task's refund can
# wait for its runner to finish the move.
CREDIT_MARKER_TTL_S = 30 * 86400
_RETRY_S = (0.05, 0.2, 1.0, 2.0)


class CreditStoreUnavailable(Exception):
    """Redis did not answer: the request cannot be admitted (503)."""


@dataclass(slots=True)
class Op:
    """A hold to give back and, with `item`, a charge to apply."""

    worker: str
    account_id: int
    key_prefix: str | None  # set when the key's limits counted the request
    hold: str
    held: int
    charged: int = 0
    tokens: int = 0
    seq: int = 0
    at: datetime | None = None
    item: Pending | None = None
    key_limits: Limits | None = None  # None: look them up by the key's prefix


def account_key(prefix: str, account_id: int) -> str:
    return f"{prefix}account:{account_id}"


def key_key(prefix: str, key_prefix: str) -> str:
    return f"{prefix}key:{key_prefix}"


def top_up_sync(url: str, prefix: str, account_id: int, credits: int) -> None:
    """For the CLI: move a live balance after the database took the top-up."""
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S)
    try:
        client.eval(scripts.TOP_UP, 1, account_key(prefix, account_id), credits)
    finally:
        client.close()


class RedisCreditBook(LedgerQueue):
    def __init__(self, url: str, prefix: str, origin: str = "local", outbox: Outbox | None = None) -> None:
        super().__init__(origin, outbox)
        self.prefix = prefix
        self.worker = origin
        self._redis = RespClient(url, timeout_s=TIMEOUT_S)
        self._ops: list[Op] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task] = []
        # The limits of keys by prefix, for replayed charges (set by the gateway: the key cache).
        self.key_limits: Callable[[str], Limits | None] = lambda prefix: None

    async def start(self) -> None:
        await self._beat()
        self._tasks = [
            asyncio.create_task(self._keep_alive(), name="omnigate-redis-heartbeat"),
            asyncio.create_task(self._apply_loop(), name="omnigate-redis-apply"),
        ]

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait (bounded) until every queued operation reached Redis."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def ping(self) -> None:
        """Raises unless Redis answers (readiness checks)."""
        await self._redis.call("PING")

    async def close(self) -> None:
        await self.drain()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Whatever this worker still holds is released at once, not after the heartbeat expires.
        with contextlib.suppress(redis.RedisError):
            await self._redis.call("DEL", f"{self.prefix}worker:{self.worker}")
        await self._redis.close()

    # -- the request path ----------------------------------------------------------------------
    async def reserve(self, key: KeyRow, amount: int) -> Reservation:
        state = self.accounts[key.account_id]
        reservation = self._new_reservation(key, amount)
        now = time.time()
        account_args = self._subject_args(state.limits, self.account_meters.get(state.id), now)
        key_args = self._subject_args(key.limits, self.key_meters.get(key.prefix), now)
        try:
            result = await self._redis.eval(
                scripts.RESERVE,
                [account_key(self.prefix, state.id), key_key(self.prefix, key.prefix)],
                [
                    self.prefix,
                    self.worker,
                    reservation.id,
                    amount,
                    state.db_balance,
                    *account_args,
                    *key_args,
                ],
            )
        except redis.RedisError as exc:
            # The script may have run before the connection failed: give the hold back (by id,
            # so this is a no-op if it did not).
            reservation.done = True
            self._send_later(
                Op(self.worker, state.id, key.prefix if reservation.keyed else None, reservation.id, amount)
            )
            log.error("redis did not answer a reservation: %s", exc)
            raise CreditStoreUnavailable("the credit store (Redis) did not answer") from exc
        if result[0] != 1:
            reservation.done = True
            raise self._refusal(key, state.limits, amount, [int(v) for v in result[1:]])
        return reservation

    def _subject_args(self, limits: Limits, meter: lim.Meter | None, now: float) -> list[Any]:
        if not limits.any:
            return ["0", "", "", "", "", "", ""]
        stamp, seed = "", 0
        if limits.budget is not None:
            stamp = lim.current_period(limits.budget_period, now).stamp
            seed = meter.spent if meter is not None and meter.period == stamp else 0
        return [
            "1",
            limits.rpm or "",
            limits.tpm or "",
            "" if limits.concurrency is None else limits.concurrency,
            "" if limits.budget is None else limits.budget,
            stamp,
            seed,
        ]

    def _refusal(self, key: KeyRow, account_limits: Limits, amount: int, result: list[int]) -> Exception:
        reason, subject, value = result
        if reason == 1:
            return InsufficientCredits(available=max(value, 0), needed=amount)
        limits = account_limits if subject == 1 else key.limits
        name = f"account {self.accounts[key.account_id].name!r}" if subject == 1 else f"key {key.prefix}"
        if reason == 2:
            return lim.too_many_at_once(name, limits)
        if reason == 3:
            return lim.too_many_requests(name, limits, value / 1000)
        if reason == 4:
            return lim.too_many_tokens(name, limits, value / 1000)
        return lim.budget_exceeded(name, limits, value, amount, time.time())

    async def release(self, reservation: Reservation) -> None:
        if not reservation.done:
            reservation.done = True
            key = reservation.key.prefix if reservation.keyed else None
            self._send_later(Op(self.worker, reservation.account_id, key, reservation.id, reservation.amount))

    async def settle(self, reservation: Reservation, cost: int, usage: Usage) -> int:
        """Charge `cost` from the hold; no round trip unless the cost is above what was held."""
        if reservation.done:
            return 0
        reservation.done = True
        held = reservation.amount
        if cost > held:
            held += await self._hold_more(reservation, cost - held)
        charged = max(min(cost, held), 0)
        item = self._record(reservation, charged, cost, usage, held=held)
        op = self._op(self.worker, item.record, item)
        op.key_limits = reservation.key.limits
        self._send_later(op)
        return charged

    async def _hold_more(self, reservation: Reservation, extra: int) -> int:
        try:
            return int(
                await self._redis.eval(
                    scripts.TOP_OFF,
                    [
                        account_key(self.prefix, reservation.account_id),
                        key_key(self.prefix, reservation.key.prefix),
                    ],
                    [self.prefix, self.worker, extra, "1" if reservation.keyed else "0"],
                )
            )
        except redis.RedisError as exc:
            log.error(
                "redis did not answer; request %s is charged at most what it held: %s", reservation.id, exc
            )
            return 0

    def _op(self, worker: str, record: Record, item: Pending | None) -> Op:
        entry = record.entry
        return Op(
            worker=worker,
            account_id=entry.account_id,
            key_prefix=entry.key_prefix if record.keyed else None,
            hold=record.hold,
            held=record.held,
            charged=-entry.amount,
            tokens=(entry.prompt_tokens or 0) + (entry.completion_tokens or 0),
            seq=record.seq,
            at=entry.created_at,
            item=item,
        )

    # -- applying settled operations -----------------------------------------------------------
    def settled_everywhere(self) -> bool:
        return not self._ops and super().settled_everywhere()

    def _send_later(self, op: Op) -> None:
        self._ops.append(op)
        self._idle.clear()
        self._wake.set()

    async def _apply_loop(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ops:
                batch = self._ops[:MAX_OPS_PER_CALL]
                try:
                    await self._apply_isolating(batch)
                except redis.RedisError as exc:
                    wait = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                    failures += 1
                    log.warning(
                        "redis did not take %d settlements (%s); retrying in %gs", len(batch), exc, wait
                    )
                    await asyncio.sleep(wait)
                    continue
                failures = 0
                del self._ops[: len(batch)]
                self._pending.extend(op.item for op in batch if op.item is not None)
            self._idle.set()

    async def _apply_isolating(self, batch: list[Op]) -> None:
        """Apply a batch; when Redis refuses it (a script error, not a lost connection), apply its
        operations one by one, so that one bad operation cannot hold back the others. One that is
        refused alone is logged and left out of Redis; its charge still reaches the ledger."""
        try:
            await self.apply(batch)
            return
        except redis.ResponseError as exc:
            if len(batch) == 1:
                log.error("redis refused the settlement of %s: %s", batch[0].hold, exc)
                return
        for op in batch:
            await self._apply_isolating([op])

    async def apply(self, ops: list[Op]) -> None:
        """Send operations of one worker in one APPLY call (idempotent)."""
        keys: dict[str, int] = {}

        def index(name: str) -> int:
            return keys.setdefault(name, len(keys) + 1)

        args: list[Any] = [self.prefix, ops[0].worker]
        for op in ops:
            state = self.accounts.get(op.account_id)
            account_limits = state.limits if state is not None else Limits()
            key_limits = Limits()
            if op.key_prefix:
                key_limits = op.key_limits or self.key_limits(op.key_prefix) or Limits()
            args += [
                op.hold,
                op.seq,
                index(account_key(self.prefix, op.account_id)),
                index(key_key(self.prefix, op.key_prefix)) if op.key_prefix else 0,
                op.held,
                op.charged,
                op.tokens,
                _stamp(account_limits, op.at),
                account_limits.tpm or 0,
                _stamp(key_limits, op.at),
                key_limits.tpm or 0,
            ]
        await self._redis.eval(scripts.APPLY, list(keys), args)

    async def replay(self, worker: str, records: list[Record]) -> None:
        """Apply a dead worker's outbox (it may have applied some of it already: APPLY skips those)."""
        ops = [self._op(worker, record, None) for record in sorted(records, key=lambda r: r.seq)]
        for start in range(0, len(ops), MAX_OPS_PER_CALL):
            await self.apply(ops[start : start + MAX_OPS_PER_CALL])

    # -- the rest ------------------------------------------------------------------------------
    async def topped_up(self, row: AccountRow, credits: int) -> None:
        await self._redis.eval(scripts.TOP_UP, [account_key(self.prefix, row.id)], [credits])

    async def credited(self, account_id: int, credits: int, entry_id: str) -> None:
        """Credits the database took directly (a task's refund) reach the live balance once, by
        the entry's id, however often this is called (a runner that stopped halfway, another
        that finishes its work)."""
        await self._redis.eval(
            scripts.CREDIT,
            [account_key(self.prefix, account_id), f"{self.prefix}credited:{entry_id}"],
            [credits, CREDIT_MARKER_TTL_S],
        )

    async def view(self, account_id: int) -> BalanceView:
        """The live balance, less this worker's charges that Redis does not show yet (read with
        the last sequence number Redis applied, so a batch landing meanwhile is not counted twice)."""
        state = self.accounts[account_id]
        live, applied = await self._redis.eval(
            scripts.BALANCE, [account_key(self.prefix, account_id), f"{self.prefix}applied:{self.worker}"], []
        )
        if live is None:
            return BalanceView(state.balance, state.low_balance_threshold, state.updated_at)
        last = int(applied or 0)
        unapplied = sum(op.charged for op in self._ops if op.account_id == account_id and op.seq > last)
        return BalanceView(int(live) - unapplied, state.low_balance_threshold, state.updated_at)

    async def _beat(self) -> None:
        await self._redis.call("SET", f"{self.prefix}worker:{self.worker}", 1, "EX", HEARTBEAT_TTL_S)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except redis.RedisError:
                log.exception("redis heartbeat failed")


def _stamp(limits: Limits, at: datetime | None) -> str:
    if limits.budget is None:
        return ""
    return lim.current_period(limits.budget_period, at.timestamp() if at else time.time()).stamp
