"""The records the store reads and writes, as plain typed values (no database types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# How often a credit budget starts again ("total": never, the service's `no_reset`).
BUDGET_PERIODS = ("day", "week", "month", "total")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a key or an account may use; None means no limit of that kind."""

    rpm: int | None = None  # requests per minute
    tpm: int | None = None  # tokens (prompt + completion) per minute
    concurrency: int | None = None  # requests in flight at once
    budget: int | None = None  # credits per budget period
    budget_period: str = "month"
    # Whether any limit is set: read on every request, so computed once.
    any: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limited = any(v is not None for v in (self.rpm, self.tpm, self.concurrency, self.budget))
        object.__setattr__(self, "any", limited)

    def fields(self) -> dict[str, int | str | None]:
        """The limits by name, as they are stored and shown (no period without a budget)."""
        return {
            "rpm": self.rpm,
            "tpm": self.tpm,
            "concurrency": self.concurrency,
            "budget": self.budget,
            "budget_period": self.budget_period if self.budget is not None else None,
        }


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    balance: int
    low_balance_threshold: int
    updated_at: datetime
    limits: Limits = NO_LIMITS


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    account_id: int
    prefix: str
    key_hash: str
    name: str
    admin: bool
    disabled: bool
    created_at: datetime
    limits: Limits = NO_LIMITS
    # Families of models the key may call ("model:chat", ...); empty: every family.
    scopes: tuple[str, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row. `entry_id` is unique in the database, so writing an entry twice (a replay,
    a retry after a lost acknowledgement) leaves one row."""

    entry_id: str
    account_id: int
    amount: int  # credits: positive for top-ups and refunds, negative for charges
    kind: str  # charge | topup | refund
    key_prefix: str | None = None
    model: str | None = None
    request_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    note: str | None = None
    created_at: datetime | None = None

    def columns(self) -> tuple:
        """Every field but the time, in storage order (each store writes the time its own way)."""
        return (
            self.entry_id,
            self.account_id,
            self.amount,
            self.kind,
            self.key_prefix,
            self.model,
            self.request_id,
            self.prompt_tokens,
            self.completion_tokens,
            self.note,
        )


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    account_id: int
    model: str
    input: str  # JSON text of the turn's input items
    output: str  # JSON text of the Response object
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    kind: str  # account | key
    ref: str  # account id or key prefix


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One row of the request log: a request that a key made, as its answer ended."""

    request_id: str
    created_at: datetime
    account_id: int
    key_prefix: str
    method: str
    route: str
    model: str | None
    provider: str | None
    status: int
    error_code: str | None
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    credits: int
    duration_ms: float
    ttft_ms: float | None
    overhead_ms: float
    id: int | None = None  # the row's id once stored


@dataclass(frozen=True, slots=True)
class UsageSum:
    """Requests and what they used, summed over one group (a time bucket, a model, a key)."""

    bucket: int | None  # seconds since the epoch // the bucket size; None when not grouped by time
    model: str | None
    key_prefix: str | None
    requests: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    credits: int


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one successful request took, for /models/metrics."""

    model: str
    duration_ms: float
    ttft_ms: float | None
    completion_tokens: int
