"""The in-memory credit book: reservations and settlements without a database round trip.

Each account's spendable credits are `db_balance + pending - reserved`:
- `db_balance` is the balance last read from (or written to) the database;
- `pending` is the sum of ledger entries settled here but not yet flushed;
- `reserved` is the worst case of the requests in flight.

A request reserves its worst case before it is forwarded and settles its real cost afterwards, so
concurrent requests can never spend more than the account holds. All methods run on the event loop
and never await, which makes each of them atomic within one process.
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


@dataclass(slots=True)
class AccountState:
    id: int
    name: str
    db_balance: int
    low_balance_threshold: int
    updated_at: datetime
    pending: int = 0
    reserved: int = 0

    @property
    def balance(self) -> int:
        """Settled credits: what the ledger will sum to once pending entries are flushed."""
        return self.db_balance + self.pending

    @property
    def available(self) -> int:
        return self.db_balance + self.pending - self.reserved


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
    account: AccountState
    amount: int
    done: bool = field(default=False)


class CreditBook:
    def __init__(self) -> None:
        self.accounts: dict[int, AccountState] = {}
        self._queue: list[LedgerEntry] = []

    # -- cache maintenance (called by the sync loop) -----------------------------------------
    def refresh(self, row: AccountRow) -> None:
        state = self.accounts.get(row.id)
        if state is None:
            self.accounts[row.id] = AccountState(
                id=row.id,
                name=row.name,
                db_balance=row.balance,
                low_balance_threshold=row.low_balance_threshold,
                updated_at=row.updated_at,
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

    @property
    def pending_entries(self) -> int:
        return len(self._queue)

    # -- the hot path ----------------------------------------------------------------------
    def reserve(self, account_id: int, amount: int) -> Reservation:
        state = self.accounts[account_id]
        if amount > 0 and state.available < amount:
            raise InsufficientCredits(available=max(state.available, 0), needed=amount)
        state.reserved += amount
        return Reservation(account=state, amount=amount)

    def release(self, reservation: Reservation) -> None:
        if not reservation.done:
            reservation.done = True
            reservation.account.reserved -= reservation.amount

    def settle(self, reservation: Reservation, cost: int, usage: Usage) -> int:
        """Release the reservation, charge `cost` and queue a ledger entry; returns the credits charged.

        The charge never takes the balance below zero: when the real cost exceeds what was
        reserved and the account cannot cover the difference, the rest is written off and noted.
        """
        if reservation.done:
            return 0
        self.release(reservation)
        state = reservation.account
        charged = max(min(cost, state.available), 0)
        # Free requests are recorded too (amount 0): the ledger doubles as the usage record.
        state.pending -= charged
        state.updated_at = datetime.now(UTC)
        self._queue.append(
            LedgerEntry(
                account_id=state.id,
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
        return charged
