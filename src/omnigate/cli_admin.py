"""The `omnigate` commands that manage what the database holds: keys, accounts, tasks, models and
the schema. Each opens the database, does one thing, prints what it did, and closes it."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable

from omnigate.settings import ConfigError, Settings
from omnigate.store.db import Database
from omnigate.store.rows import NO_LIMITS, Limits
from omnigate.store.tasks import charge_entry_id, refund_entry_id

CLI_ORIGIN = "cli"
DEFAULT_ACCOUNT = "default"


def limit(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0 or none, got {text!r}")
    return value


def limits_from(args: argparse.Namespace, current: Limits = NO_LIMITS) -> Limits:
    """The limits the flags set over `current` (a flag not given keeps its value)."""
    changes = {
        name: getattr(args, name) for name in ("rpm", "tpm", "concurrency", "budget") if hasattr(args, name)
    }
    for name in ("rpm", "tpm", "concurrency"):
        if changes.get(name) == 0:
            raise ConfigError(f"--{name} must be at least 1 (or none to remove the limit)")
    if args.budget_period:
        changes["budget_period"] = args.budget_period
    return dataclasses.replace(current, **changes)


def with_db(settings: Settings, action: Callable[[Database], int | None]) -> int:
    db = Database(settings.database_url)
    try:
        db.upgrade()
        return action(db) or 0
    finally:
        db.close()


# -- the database, tasks and keys ----------------------------------------------------------
def tasks_list(settings: Settings, args: argparse.Namespace) -> int:
    def run(db: Database) -> None:
        account_id = db.account(args.account).id if args.account else None
        rows = db.list_tasks(account_id=account_id, status=args.status, limit=args.limit)
        print(f"{'created':<20} {'status':<11} {'charged':>10} {'refunded':>10}  id")
        for t in rows:
            refunded = "" if t.refunded is None else str(t.refunded)
            charged = "" if t.charged is None else str(t.charged)
            print(f"{t.created_at:%Y-%m-%d %H:%M:%S} {t.status:<11} {charged:>10} {refunded:>10}  {t.id}")

    return with_db(settings, run)


def tasks_show(settings: Settings, args: argparse.Namespace) -> int:
    def run(db: Database) -> int:
        task = db.task(args.id)
        if task is None:
            print(f"omnigate: task {args.id!r} does not exist (or was pruned)", file=sys.stderr)
            return 1
        shown = {
            name: getattr(task, name)
            for name in (
                "id",
                "status",
                "family",
                "model",
                "account_id",
                "key_prefix",
                "request_id",
                "provider",
                "upstream_model",
                "upstream_id",
                "charged",
                "refunded",
                "polls",
                "error",
                "lease_owner",
                "created_at",
                "updated_at",
                "finished_at",
            )
        }
        for name, value in shown.items():
            print(f"{name:<15} {'' if value is None else value}")
        print(f"{'result':<15} {task.result or ''}")
        for entry_id in (charge_entry_id(task.uuid), refund_entry_id(task.uuid)):
            amount = db.ledger_amount(entry_id)
            print(f"{'ledger':<15} {entry_id} {'(none)' if amount is None else amount}")
        return 0

    return with_db(settings, run)


def first_start(db: Database) -> None:
    """With an empty database, create the default account and an admin key, and show the key once."""
    if db.count_keys():
        return
    if not any(a.name == DEFAULT_ACCOUNT for a in db.list_accounts()):
        db.create_account(
            DEFAULT_ACCOUNT,
            low_balance_threshold=Settings().billing.low_balance_threshold,
            origin=CLI_ORIGIN,
        )
    key, _ = db.create_key(DEFAULT_ACCOUNT, admin=True, name="first key", origin=CLI_ORIGIN)
    # Printed, never logged: this is the only copy of the key that will ever exist in clear text.
    print(
        "\nFirst start: created the account 'default' and this admin API key:\n\n"
        f"    {key}\n\n"
        "It is stored hashed and will not be shown again. Free models work at once; to use priced\n"
        "models, add credits: omnigate accounts topup default --credits 2000000   (= 1 USD)\n",
        flush=True,
    )


def keys_create(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        if args.account == DEFAULT_ACCOUNT and not any(a.name == DEFAULT_ACCOUNT for a in db.list_accounts()):
            db.create_account(
                DEFAULT_ACCOUNT,
                low_balance_threshold=settings.billing.low_balance_threshold,
                origin=CLI_ORIGIN,
            )
        key, _ = db.create_key(
            args.account,
            admin=args.admin,
            name=args.name,
            origin=CLI_ORIGIN,
            limits=limits_from(args),
            scopes=tuple(dict.fromkeys(args.scope or ())),
        )
        print(key)

    return with_db(settings, action)


def keys_update(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        current = db.key(args.prefix)
        scopes = () if args.all_scopes else tuple(dict.fromkeys(args.scope)) if args.scope else None
        row = db.update_key(
            args.prefix,
            origin=CLI_ORIGIN,
            name=args.name,
            limits=limits_from(args, current.limits),
            scopes=scopes,
        )
        print(f"key {row.prefix}: {describe(row.limits)}; scopes: {', '.join(row.scopes) or 'all'}")

    return with_db(settings, action)


def keys_delete(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        db.delete_key(args.prefix, origin=CLI_ORIGIN)
        print(f"key {args.prefix} deleted")

    return with_db(settings, action)


def describe(limits: Limits) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (("rpm", limits.rpm), ("tpm", limits.tpm), ("concurrency", limits.concurrency))
        if value is not None
    ]
    if limits.budget is not None:
        parts.append(f"budget {limits.budget} credits per {limits.budget_period}")
    return ", ".join(parts) or "no limits"


def keys_list(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        names = {a.id: a.name for a in db.list_accounts()}
        print(f"{'PREFIX':<14} {'ACCOUNT':<20} {'ADMIN':<6} {'STATE':<9} {'CREATED':<20} NAME")
        for k in db.list_keys():
            state = "disabled" if k.disabled else "active"
            created = k.created_at.strftime("%Y-%m-%d %H:%M:%S")
            admin = "yes" if k.admin else "no"
            account = names.get(k.account_id, "?")
            print(f"{k.prefix:<14} {account:<20} {admin:<6} {state:<9} {created:<20} {k.name}")

    return with_db(settings, action)


def keys_toggle(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        row = db.set_key_disabled(args.prefix, args.disabled, origin=CLI_ORIGIN)
        print(f"key {row.prefix} is now {'disabled' if row.disabled else 'active'}")

    return with_db(settings, action)


# -- accounts ------------------------------------------------------------------------------
def accounts_create(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        row = db.create_account(
            args.name,
            low_balance_threshold=settings.billing.low_balance_threshold,
            origin=CLI_ORIGIN,
            limits=limits_from(args),
        )
        print(f"created account {row.name} (id {row.id}) with 0 credits; {describe(row.limits)}")

    return with_db(settings, action)


def accounts_update(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        current = db.account(args.name)
        row = db.set_account_limits(current.id, limits_from(args, current.limits), origin=CLI_ORIGIN)
        print(f"account {row.name}: {describe(row.limits)}")

    return with_db(settings, action)


def accounts_topup(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        account = db.account(args.name)
        entry_id = f"topup-{account.id}-{args.idempotency_key}" if args.idempotency_key else None
        row, applied = db.top_up(
            account.id, args.credits, origin=CLI_ORIGIN, note=args.note, entry_id=entry_id
        )
        if not applied:
            print(f"account {row.name}: this top-up was already applied; balance {row.balance} credits")
            return
        if settings.redis.url:
            # Running workers keep live balances in Redis; move them now rather than on restart.
            from omnigate.billing.redis_book import top_up_sync

            top_up_sync(settings.redis.url, settings.redis.prefix, row.id, args.credits)
        print(f"account {row.name}: balance {row.balance} credits (${row.balance / 2_000_000:.6f})")

    return with_db(settings, action)


def accounts_show(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> int:
        row = db.account(args.name)
        ledger_total = db.ledger_sum(row.id)
        print(f"account:   {row.name} (id {row.id})")
        print(f"balance:   {row.balance} credits (${row.balance / 2_000_000:.6f})")
        print(f"ledger:    {ledger_total} credits in {len(db.ledger_entries(row.id))} entries")
        print(f"updated:   {row.updated_at.isoformat(timespec='seconds')}")
        if ledger_total != row.balance:
            print("warning: the balance does not equal the ledger's sum", file=sys.stderr)
            return 1
        return 0

    return with_db(settings, action)


def accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        print(f"{'ID':<6} {'NAME':<24} {'BALANCE':>16}")
        for a in db.list_accounts():
            print(f"{a.id:<6} {a.name:<24} {a.balance:>16}")

    return with_db(settings, action)


# -- models and db -------------------------------------------------------------------------
def models_list(settings: Settings, args: argparse.Namespace) -> int:
    from omnigate.catalog.loader import Catalog

    catalog = Catalog.load()
    shown = [m for m in catalog.models if not args.type or m.type == args.type]
    for m in shown:
        print(f"{m.id:<56} {m.type:<16} {m.developer}")
    print(f"{len(shown)} models", file=sys.stderr)
    return 0


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        print(f"database {settings.database_url}: schema version {db.upgrade()}")

    return with_db(settings, action)
