"""Database tables. The same schema serves SQLite (default) and PostgreSQL (scaled out)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 2
# The longest request id kept: X-Client-Request-Id allows 1-128 characters.
REQUEST_ID_MAX = 128

# BigInteger autoincrement keys are plain INTEGER on SQLite, where only that type aliases the rowid.
IdType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _limit_columns() -> list[Column]:
    """What a key or an account may use (store/rows.py Limits); NULL: no limit of that kind."""
    return [
        Column("rpm", Integer),
        Column("tpm", Integer),
        Column("concurrency", Integer),
        Column("budget", BigInteger),  # credits per budget period
        Column("budget_period", String(8)),  # day | week | month | total
    ]


schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    # Always equal to the sum of this account's ledger rows; both change in one transaction.
    Column("balance", BigInteger, nullable=False, default=0),
    Column("low_balance_threshold", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    *_limit_columns(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    # sha256 of the whole key: keys carry 256 random bits, so a fast hash is safe here.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True)),
    # Comma-separated model families the key may call (model:chat, ...); NULL or empty: all.
    Column("scopes", String(400)),
    *_limit_columns(),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    # Unique: an entry written twice (a replay, a retry after a lost acknowledgement) is one row.
    Column("entry_id", String(100), unique=True),
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    # Credits: positive for top-ups and refunds, negative for charges.
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # topup | charge | refund
    Column("key_prefix", String(32)),
    Column("model", String(200)),
    Column("request_id", String(REQUEST_ID_MAX)),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_account", "account_id", "id"),
    # Spend per key over a period (budgets, usage).
    Index("ix_ledger_key", "key_prefix", "created_at"),
)

# The feed every running server polls so that admin actions taken anywhere (CLI, HTTP API,
# another replica) reach its caches within a second.
changes = Table(
    "changes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # account | key
    Column("ref", String(64), nullable=False),  # account id or key prefix
    Column("origin", String(64), nullable=False),  # which process wrote it
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Responses API turns stored for previous_response_id and GET /v1/responses/{id}.
responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("input", Text, nullable=False),  # this turn's input items, JSON
    Column("output", Text, nullable=False),  # the whole Response object (output items included), JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
)
