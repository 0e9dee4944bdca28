"""Credit books: reservations, limits and settlements without a database round trip.

A request reserves its worst-case cost before it is forwarded and settles its real cost
afterwards, so concurrent requests can never spend more than the account holds. A settled charge
is written to this process's outbox (billing/outbox.py) before the answer that reports it
leaves, then queued for the sync loop, which writes it to the ledger in batches.

Two books share this interface:
- `CreditBook` (here) keeps live balances and limits in this process's memory: one server process;
- `RedisCreditBook` (billing/redis_book.py) keeps them in Redis: several workers or replicas.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from omnigate.billing import limits as lim
from omnigate.billing.outbox import Outbox, Record
from omnigate.store.rows import AccountRow, KeyRow, LedgerEntry, Limits


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
    note: str | None = None  # what else the request used (images, seconds, ...), for the ledger
    # The ledger entry's id when the caller must find it again (a task's charge); by default
    # this process's origin and sequence number.
    entry_id: str | None = None

    @property
    def tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(slots=True)
class Reservation:
    id: str  # unique: Redis releases a hold exactly once by it
    account_id: int
    key: KeyRow  # as it was when the request began (its limits, its prefix)
    amount: int
    # The in-memory meters the request counts in, with the limits they were checked against.
    meters: tuple[tuple[lim.Meter, Limits], ...] = ()
    keyed: bool = False  # the key's own limits count the request
    done: bool = field(default=False)


@dataclass(slots=True)
class AccountState:
    id: int
    name: str
    db_balance: int  # the balance last read from (or written to) the database
    low_balance_threshold: int
    updated_at: datetime
    limits: Limits
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


@dataclass(slots=True)
class Pending:
    """A settled entry on its way to the database, and where it sits in the outbox."""

    record: Record
    segment: int = -1

    @property
    def entry(self) -> LedgerEntry:
        return self.record.entry


class LedgerQueue:
    """What both books share: the accounts as the database has them, the meters of the limits,
    and the settled entries waiting for the sync loop."""

    def __init__(self, origin: str = "local", outbox: Outbox | None = None) -> None:
        self.origin = origin  # this process, in entry ids, outbox names and Redis fields
        self.outbox = outbox
        self.accounts: dict[int, AccountState] = {}
        self.key_meters: dict[str, lim.Meter] = {}
        self.account_meters: dict[int, lim.Meter] = {}
        self._pending: list[Pending] = []
        self._seq = itertools.count(1)
        self._reservations = itertools.count(1)

    def refresh(self, row: AccountRow) -> None:
        """Take in an account as the database has it now (the sync loop calls this under its lock:
        the database balance it reads and the entries still pending must fit together)."""
        state = self.accounts.get(row.id)
        if state is None:
            self.accounts[row.id] = AccountState(
                row.id, row.name, row.balance, row.low_balance_threshold, row.updated_at, row.limits
            )
            return
        state.db_balance = row.balance
        state.low_balance_threshold = row.low_balance_threshold
        state.limits = row.limits
        state.updated_at = max(state.updated_at, row.updated_at)

    @property
    def backlog(self) -> int:
        """Settled entries still waiting for the sync loop to write them to the ledger."""
        return len(self._pending)

    def settled_everywhere(self) -> bool:
        """Every charge recorded here has reached every store (the outbox may be deleted)."""
        return not self._pending

    def take_pending(self) -> list[Pending]:
        entries, self._pending = self._pending, []
        return entries

    def requeue(self, entries: list[Pending]) -> None:
        """Put back entries whose flush failed, ahead of newer ones."""
        self._pending[:0] = entries

    def flushed(self, amounts: dict[int, int], balances: dict[int, int]) -> None:
        """Entries with these credits per account are in the database now (written by this
        flush, or by an earlier one whose acknowledgement was lost), and these are the accounts'
        balances read with them."""
        for account_id, amount in amounts.items():
            state = self.accounts.get(account_id)
            if state is not None:
                state.pending -= amount
        for account_id, balance in balances.items():
            state = self.accounts.get(account_id)
            if state is not None:
                state.db_balance = balance

    def pending_spent(
        self, since: datetime, *, account_id: int | None = None, key_prefix: str | None = None
    ) -> int:
        """Credits charged since `since` by entries not yet in the database (to seed a budget)."""
        total = 0
        for item in self._pending:
            e = item.entry
            if (
                e.kind != "topup"
                and e.created_at is not None
                and e.created_at >= since
                and (account_id is None or e.account_id == account_id)
                and (key_prefix is None or e.key_prefix == key_prefix)
            ):
                total -= e.amount
        return total

    def meter_for_key(self, prefix: str) -> lim.Meter:
        meter = self.key_meters.get(prefix)
        if meter is None:
            meter = self.key_meters[prefix] = lim.Meter()
        return meter

    def meter_for_account(self, account_id: int) -> lim.Meter:
        meter = self.account_meters.get(account_id)
        if meter is None:
            meter = self.account_meters[account_id] = lim.Meter()
        return meter

    def _new_reservation(self, key: KeyRow, amount: int, meters: tuple = ()) -> Reservation:
        number = next(self._reservations)
        return Reservation(f"{self.origin}.{number}", key.account_id, key, amount, meters, key.limits.any)

    def _subjects(self, key: KeyRow) -> list[tuple[lim.Meter, Limits, str]]:
        """The meters a request of this key counts in: the key's and its account's, where limited."""
        found = []
        if key.limits.any:
            found.append((self.meter_for_key(key.prefix), key.limits, f"key {key.prefix}"))
        state = self.accounts[key.account_id]
        if state.limits.any:
            found.append((self.meter_for_account(state.id), state.limits, f"account {state.name!r}"))
        return found

    def _record(
        self, reservation: Reservation, charged: int, cost: int, usage: Usage, *, held: int
    ) -> Pending:
        """Write a settled charge to the outbox; the caller queues it."""
        state = self.accounts[reservation.account_id]
        state.pending -= charged
        state.updated_at = datetime.now(UTC)
        seq = next(self._seq)
        # Free requests are recorded too (amount 0): the ledger doubles as the usage record.
        entry = LedgerEntry(
            entry_id=usage.entry_id or f"{self.origin}-{seq}",
            account_id=reservation.account_id,
            amount=-charged,
            kind="charge",
            key_prefix=usage.key_prefix,
            model=usage.model,
            request_id=usage.request_id,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            note=_note(usage.note, charged, cost),
            created_at=state.updated_at,
        )
        item = Pending(Record(entry, seq, reservation.id, held, reservation.keyed))
        if self.outbox is not None:
            item.segment = self.outbox.append(item.record)
        return item


class CreditBook(LedgerQueue):
    """Live balances and limits in this process's memory. Every method runs on the event loop
    without awaiting anything, which makes each one atomic within the process."""

    async def start(self) -> None:
        return None

    async def drain(self) -> None:
        """Nothing waits here: settlements apply at once."""
        return None

    async def close(self) -> None:
        return None

    async def reserve(self, key: KeyRow, amount: int) -> Reservation:
        """Hold `amount` credits for a request of `key`; raises LimitExceeded or InsufficientCredits."""
        state = self.accounts[key.account_id]
        subjects = self._subjects(key) if key.limits.any or state.limits.any else ()
        now = time.time()
        for meter, limits, name in subjects:
            lim.check(meter, limits, amount, now, name)
        if amount > 0 and state.available < amount:
            raise InsufficientCredits(available=max(state.available, 0), needed=amount)
        for meter, limits, _ in subjects:
            lim.take(meter, limits, amount, now)
        state.reserved += amount
        return self._new_reservation(key, amount, tuple((m, limits) for m, limits, _ in subjects))

    async def release(self, reservation: Reservation) -> None:
        if not reservation.done:
            self._release(reservation)

    def _release(self, reservation: Reservation) -> None:
        reservation.done = True
        self.accounts[reservation.account_id].reserved -= reservation.amount
        for meter, _ in reservation.meters:
            lim.give_back(meter, reservation.amount)

    async def settle(self, reservation: Reservation, cost: int, usage: Usage) -> int:
        """Release the reservation, charge `cost`, record the entry; returns the credits charged.

        The charge never takes the balance below zero: when the real cost exceeds what was
        reserved and the account cannot cover the difference, the rest is written off and noted.
        """
        if reservation.done:
            return 0
        self._release(reservation)
        charged = max(min(cost, self.accounts[reservation.account_id].available), 0)
        self._pending.append(self._record(reservation, charged, cost, usage, held=reservation.amount))
        if reservation.meters:
            now = time.time()
            for meter, limits in reservation.meters:
                lim.charge(meter, limits, charged, usage.tokens, now)
        return charged

    async def topped_up(self, row: AccountRow, credits: int) -> None:
        """A top-up this process made: the sync loop refreshes the account (the database already
        holds the credits), so there is nothing more to move here."""
        return None

    async def credited(self, account_id: int, credits: int, entry_id: str) -> None:
        """Credits the database took directly (a task's refund): the caller reads the account
        again, which is all this book needs."""
        return None

    async def view(self, account_id: int) -> BalanceView:
        state = self.accounts[account_id]
        return BalanceView(state.balance, state.low_balance_threshold, state.updated_at)


def _note(note: str | None, charged: int, cost: int) -> str | None:
    if charged < cost:
        capped = f"cost {cost} credits, capped at the available balance"
        return f"{note}; {capped}" if note else capped
    return note
