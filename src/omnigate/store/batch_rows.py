"""What the database gives back of a batch and of one of its requests (store/batches.py), for both
kinds of batch: the service's message batches and OpenAI's file-based ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy.engine import Row

from omnigate.store.timestamps import aware


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: str
    account_id: int
    key_prefix: str
    request_id: str
    status: str  # in_progress | canceling | ended
    created_at: datetime
    expires_at: datetime
    cancel_initiated_at: datetime | None
    ended_at: datetime | None
    counts: dict[str, int]  # requests per status
    # OpenAI's batches only (None for a message batch): the route of its lines, and so on.
    endpoint: str | None = None
    input_file_id: str | None = None
    completion_window: str | None = None
    metadata: dict[str, str] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    finalized_at: datetime | None = None  # its files written

    @property
    def is_openai(self) -> bool:
        return self.endpoint is not None


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One request of a batch, as a runner claimed it."""

    batch_id: str
    idx: int
    custom_id: str
    params: str  # JSON
    status: str
    result: str | None  # JSON
    cost: int | None
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    account_id: int
    key_prefix: str
    updated_at: datetime
    endpoint: str | None = None  # its batch's: None for a message batch's request

    @property
    def entry_id(self) -> str:
        """The ledger entry id of its charge."""
        return charge_entry_id(self.batch_id, self.idx)

    @property
    def request_id(self) -> str:
        return f"{self.batch_id}:{self.idx}"


def charge_entry_id(batch_id: str, idx: int) -> str:
    return f"batch:{batch_id}:{idx}"


def _maybe(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def batch_row(row: Row, counts: dict[str, int]) -> BatchRow:
    return BatchRow(
        id=row.id,
        account_id=row.account_id,
        key_prefix=row.key_prefix,
        request_id=row.request_id,
        status=row.status,
        created_at=aware(row.created_at),
        expires_at=aware(row.expires_at),
        cancel_initiated_at=_maybe(row.cancel_initiated_at),
        ended_at=_maybe(row.ended_at),
        counts=counts,
        endpoint=row.endpoint,
        input_file_id=row.input_file_id,
        completion_window=row.completion_window,
        metadata=orjson.loads(row.metadata) if row.metadata is not None else None,
        output_file_id=row.output_file_id,
        error_file_id=row.error_file_id,
        finalized_at=_maybe(row.finalized_at),
    )


def entry_row(row: Row) -> EntryRow:
    return EntryRow(
        batch_id=row.batch_id,
        idx=row.idx,
        custom_id=row.custom_id,
        params=row.params,
        status=row.status,
        result=row.result,
        cost=row.cost,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        account_id=row.account_id,
        key_prefix=row.key_prefix,
        updated_at=aware(row.updated_at),
        endpoint=row.endpoint,
    )
