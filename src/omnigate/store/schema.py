"""Database tables. The same schema serves SQLite (default) and PostgreSQL (scaled out)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 10
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

# Asynchronous generations (video, music, speech to text): what the client polls, and the work of
# the task runner (omnigate/tasks/). A runner owns a task while its lease lasts.
tasks = Table(
    "tasks",
    metadata,
    Column("id", String(300), primary_key=True),  # "<uuid>:<model>", as the service's
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("key_prefix", String(32), nullable=False),
    Column("family", String(16), nullable=False),  # video | music | stt
    Column("model", String(200), nullable=False),
    Column("request_id", String(REQUEST_ID_MAX), nullable=False),
    Column("status", String(16), nullable=False),  # queued | generating | completed | error
    Column("body", Text, nullable=False),  # the create body as forwarded (JSON)
    # The deployment that runs it (provider name, upstream model) and the upstream's task id;
    # no upstream id: the runner runs the job itself (a backend without a task API).
    Column("provider", String(100)),
    Column("upstream_model", String(200)),
    Column("upstream_id", String(300)),
    # Credits charged at creation (NULL while that charge is being recorded) and given back
    # when the task ended (NULL until then).
    Column("charged", BigInteger),
    Column("refunded", BigInteger),
    # The live balances (Redis) show this task's refund: set once they do.
    Column("mirrored", Boolean, nullable=False, default=False),
    Column("result", Text),  # JSON, once completed
    Column("error", Text),
    Column("polls", Integer, nullable=False, default=0),
    Column("next_poll_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_tasks_due", "status", "next_poll_at"),
    Index("ix_tasks_account", "account_id", "created_at"),
)

# Files sent with a task the runner runs itself (audio to transcribe, uploaded in the create
# request): kept in the database so that a runner on any machine can run it; gone once it ends.
task_inputs = Table(
    "task_inputs",
    metadata,
    Column("task_id", String(300), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("filename", String(300), nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# One row per request that a key made, failures included (telemetry/request_log.py writes them in
# batches): what GET /v2/logs pages through, /v2/usage sums and /models/metrics measures.
# No foreign key: rows are written in bulk off the hot path and only ever read by account.
request_log = Table(
    "request_log",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("request_id", String(REQUEST_ID_MAX), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),  # when the request arrived
    Column("account_id", IdType, nullable=False),
    Column("key_prefix", String(32), nullable=False),
    Column("method", String(8), nullable=False),
    Column("route", String(200), nullable=False),
    Column("model", String(200)),
    Column("provider", String(100)),
    Column("status", Integer, nullable=False),
    Column("error_code", String(64)),
    Column("stream", Boolean, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("ttft_ms", Float),
    Column("overhead_ms", Float, nullable=False),
    # Pages newest first by (created_at, id), per account or per key; sums over a time range.
    # A key is always read within its account: with both equalities its index is the planner's
    # sure choice, even for a rare key in a busy account.
    Index("ix_request_log_account", "account_id", "created_at", "id"),
    Index("ix_request_log_key", "account_id", "key_prefix", "created_at", "id"),
    # /models/metrics: the recent rows of every account.
    Index("ix_request_log_time", "created_at"),
)

# Message batches (POST /v1/batches): one row per batch, one per request in it. The task runner
# runs the requests (tasks/batches.py), taking a lease on each as on a task.
batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),  # msgbatch_... (message batch), batch_... (OpenAI's)
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("key_prefix", String(32), nullable=False),  # the key its requests are charged through
    Column("request_id", String(REQUEST_ID_MAX), nullable=False),  # the create request's
    Column("status", String(16), nullable=False),  # in_progress | canceling | ended
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("cancel_initiated_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    # OpenAI's file-based batches (schema v10); all NULL for a message batch. `endpoint` is what
    # tells the kinds apart: the route every line of the input file calls.
    Column("endpoint", String(64)),
    Column("input_file_id", String(64)),
    Column("completion_window", String(16)),
    Column("metadata", Text),  # JSON: up to 16 string pairs
    # The files the runner writes once every request has ended (deterministic ids), and when.
    Column("output_file_id", String(64)),
    Column("error_file_id", String(64)),
    Column("finalized_at", DateTime(timezone=True)),
    Index("ix_batches_account", "account_id", "created_at"),
    Index("ix_batches_status", "status", "expires_at"),
)

batch_entries = Table(
    "batch_entries",
    metadata,
    Column("batch_id", String(64), ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),  # its place in the create body's `requests`
    Column("custom_id", String(64), nullable=False),
    # The Messages request as sent (JSON); for an OpenAI batch, the line's `body`.
    Column("params", Text, nullable=False),
    # queued -> answered (result kept, charge on its way) -> succeeded; or errored, canceled,
    # expired. Only succeeded requests are charged, each with the ledger entry id
    # `batch:<batch id>:<idx>`.
    Column("status", String(16), nullable=False),
    # The JSONL line's `result` (JSON), once answered or ended; for an OpenAI batch, the output or
    # error file line's `response` and `error` (tasks/batch_files.py).
    Column("result", Text),
    # What an answered request costs, to charge it from here should its runner stop before it did.
    Column("cost", BigInteger),
    Column("model", String(200)),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_batch_entries_due", "status", "next_run_at"),
)

# What each AI search (bagoodex/bagoodex-search-v1) found, by its completion id: the follow-up
# routes GET /v1/bagoodex/{links,images,...}?followup_id= answer from it, for its account only.
search_results = Table(
    "search_results",
    metadata,
    Column("id", String(64), primary_key=True),  # the chat completion's id
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("results", Text, nullable=False),  # JSON: links, images, videos, weather, local_map, ...
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The Assistants API (api/assistants.py, api/runs.py): assistants, threads, messages and run
# steps, each kept as its public object (JSON) in one table, in the order they were made (`seq`,
# which the list routes page by). Runs have a table of their own: the task runner leases them.
assistant_objects = Table(
    "assistant_objects",
    metadata,
    Column("seq", IdType, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),  # asst_..., thread_..., msg_..., step_...
    Column("kind", String(16), nullable=False),  # assistant | thread | message | step
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("parent_id", String(64)),  # what it is listed under: a message's thread, a step's run
    Column("thread_id", String(64)),  # what deleting a thread takes with it
    Column("body", Text, nullable=False),  # the public object, JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_assistant_objects_list", "kind", "account_id", "parent_id", "seq"),
    Index("ix_assistant_objects_thread", "thread_id"),
)

# Statuses of a run that still has work ahead; a thread has at most one such run at a time.
ACTIVE_RUN_STATUSES = ("queued", "in_progress", "requires_action", "cancelling")

assistant_runs = Table(
    "assistant_runs",
    metadata,
    Column("seq", IdType, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),  # run_...
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("parent_id", String(64), nullable=False),  # its thread (the list routes page by it)
    Column("thread_id", String(64), nullable=False),
    Column("key_prefix", String(32), nullable=False),  # the key its model calls are charged through
    Column("status", String(16), nullable=False),  # the public status (RunObject.status)
    Column("body", Text, nullable=False),  # the public object, JSON (its status is the column's)
    Column("state", Text, nullable=False),  # what the runner needs to go on (assistants/execute.py)
    Column("next_run_at", DateTime(timezone=True), nullable=False),  # requires_action: its expiry
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_assistant_runs_list", "account_id", "parent_id", "seq"),
    Index("ix_assistant_runs_due", "status", "next_run_at"),
    # One active run per thread, enforced by the database (two replicas may race to start one).
    Index(
        "ux_assistant_runs_active",
        "thread_id",
        unique=True,
        sqlite_where=text("status IN ('queued', 'in_progress', 'requires_action', 'cancelling')"),
        postgresql_where=text("status IN ('queued', 'in_progress', 'requires_action', 'cancelling')"),
    ),
)

# Files users upload (POST /v1/files): what assistants search and OpenAI-shape batches read, and
# the batches' output files. The bytes live in their own table so that listing never reads them.
uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),  # file-...
    Column("account_id", IdType, ForeignKey("accounts.id"), nullable=False),
    Column("filename", Text, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),  # NULL: kept until deleted
    Index("ix_uploads_account", "account_id", "created_at"),
)

upload_contents = Table(
    "upload_contents",
    metadata,
    Column("file_id", String(64), ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True),
    Column("content", LargeBinary, nullable=False),
)

# The file_search index of uploaded files (knowledge/): one row per indexed upload, written lazily
# by the first search that needs it. The row is the lease too: a search that finds it `indexing`
# under a live lease waits for it instead of embedding the file a second time. Deleting an upload
# (DELETE /v1/files, or its expiry) deletes its index and chunks with it (ON DELETE CASCADE).
file_indexes = Table(
    "file_indexes",
    metadata,
    Column("file_id", String(64), ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), nullable=False),  # the embedding model of its vectors
    Column("status", String(16), nullable=False),  # indexing | ready
    Column("chunks", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Its chunks: the text as cut from the file and the embedding as little-endian float32, normalised.
file_chunks = Table(
    "file_chunks",
    metadata,
    Column("file_id", String(64), ForeignKey("file_indexes.file_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),
)
