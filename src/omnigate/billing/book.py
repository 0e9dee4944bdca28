"""Credit books: reservations and settlements without a database round trip.

A request reserves its worst-case cost before it is forwarded and settles its real cost
afterwards, so concurrent requests can never spend more than the account holds. Settled charges
queue up as ledger entries that the sync loop writes to the database in batches.

Two books share this interface:
- `CreditBook` (here) keeps live balances in this process's memory: one server process;
- `RedisCreditBook` (billing/redis_book.py) keeps them in Redis: several workers or replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from omnigate.store.db import AccountRow, LedgerEntry


class InsufficientCredits(Exception):
    def __init__(self, available: int, needed: int) -> None:
        super().__init__(f"needs up to {needed} credits, {available} available")
        self.available = available
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Usage:
    """What one request used, as the ledger records it."""

    key_prefix: str
    model: str
    request_id: str
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(slots=True)
class Reservation:
    account_id: int
    amount: int
    done: bool = field(default=False)


@dataclass(slots=True)
class AccountState:
    id: int
    name: str
    db_balance: int  # the balance last read from (or written to) the database
    low_balance_threshold: int
    updated_at: datetime
    pending: int = 0  # settled here, not yet flushed to the ledger
    reserved: int = 0  # worst case of the requests in flight

    @property
    def balance(self) -> int:
        """Settled credits: what the ledger will sum to once pending entries are flushed."""
        return self.db_balance + self.pending

    @property
    def available(self) -> int:
        return self.db_balance + self.pending - self.reserved


@dataclass(frozen=True, slots=True)
class BalanceView:
    balance: int
    low_balance_threshold: int
    updated_at: datetime


class LedgerQueue:
    """Settled charges waiting for the sync loop, plus what each book knows of its accounts."""

    def __init__(self) -> None:
        self.accounts: dict[int, AccountState] = {}
        self._queue: list[LedgerEntry] = []

    def refresh(self, row: AccountRow) -> None:
        """Take in an account as the database has it now."""
        state = self.accounts.get(row.id)
        if state is None:
            self.accounts[row.id] = AccountState(
                row.id, row.name, row.balance, row.low_balance_threshold, row.updated_at
            )
            return
        state.db_balance = row.balance
        state.low_balance_threshold = row.low_balance_threshold
        state.updated_at = max(state.updated_at, row.updated_at)

    def take_pending(self) -> list[LedgerEntry]:
        entries, self._queue = self._queue, []
        return entries

    def requeue(self, entries: list[LedgerEntry]) -> None:
        """Put back entries whose flush failed, ahead of newer ones."""
        self._queue[:0] = entries

    def flushed(self, deltas: dict[int, int]) -> None:
        for account_id, delta in deltas.items():
            state = self.accounts.get(account_id)
            if state is not None:
                state.db_balance += delta
                state.pending -= delta

    def _record(self, account_id: int, charged: int, cost: int, usage: Usage) -> None:
        state = self.accounts[account_id]
        state.pending -= charged
        state.updated_at = datetime.now(UTC)
        # Free requests are recorded too (amount 0): the ledger doubles as the usage record.
        self._queue.append(
            LedgerEntry(
                account_id=account_id,
                amount=-charged,
                kind="charge",
                key_prefix=usage.key_prefix,
                model=usage.model,
                request_id=usage.request_id,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                note=f"cost {cost} credits, capped at the available balance" if charged < cost else None,
                created_at=state.updated_at,
            )
        )


class CreditBook(LedgerQueue):
    """Live balances in this process's memory. Every method runs on the event loop without
    awaiting anything, which makes each one atomic within the process."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def reserve(self, account_id: int, amount: int) -> Reservation:
        state = self.accounts[account_id]
        if amount > 0 and state.available < amount:
            raise InsufficientCredits(available=max(state.available, 0), needed=amount)
        state.reserved += amount
        return Reservation(account_id, amount)

    async def release(self, reservation: Reservation) -> None:
        if not reservation.done:
            reservation.done = True
            self.accounts[reservation.account_id].reserved -= reservation.amount

    async def settle(self, reservation: Reservation, cost: int, usage: Usage) -> int:
        """Release the reservation, charge `cost`, queue a ledger entry; returns the credits charged.

        The charge never takes the balance below zero: when the real cost exceeds what was
        reserved and the account cannot cover the difference, the rest is written off and noted.
        """
        if reservation.done:
            return 0
        await self.release(reservation)
        charged = max(min(cost, self.accounts[reservation.account_id].available), 0)
        self._record(reservation.account_id, charged, cost, usage)
        return charged

    async def topped_up(self, row: AccountRow, credits: int) -> None:
        self.refresh(row)

    async def view(self, account_id: int) -> BalanceView:
        state = self.accounts[account_id]
        return BalanceView(state.balance, state.low_balance_threshold, state.updated_at)
