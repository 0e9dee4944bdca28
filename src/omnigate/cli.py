"""The `omnigate` command: serve | worker | keys | accounts | tasks | models | db."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from omnigate.http.scopes import SCOPES
from omnigate.settings import ConfigError, Settings, load_settings
from omnigate.store.db import Database, StoreError
from omnigate.store.rows import BUDGET_PERIODS, NO_LIMITS, Limits
from omnigate.store.tasks import charge_entry_id, refund_entry_id

CLI_ORIGIN = "cli"
# Where prometheus_client's multiprocess mode keeps each worker's figures (telemetry/metrics.py).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_ACCOUNT = "default"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
        return args.run(settings, args) or 0
    except (ConfigError, StoreError) as exc:
        print(f"omnigate: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (default: $OMNIGATE_CONFIG)")

    parser = argparse.ArgumentParser(prog="omnigate", description=__doc__, parents=[common])
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", parents=[common], help="run the gateway")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (more than 1 needs [redis] url)"
    )
    # Set by the supervisor: serve on this inherited listening socket.
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    limits = argparse.ArgumentParser(add_help=False)
    for flag, what in (
        ("--rpm", "requests per minute"),
        ("--tpm", "tokens (prompt + completion) per minute"),
        ("--concurrency", "requests in flight at once"),
        ("--budget", "credits per budget period (1 USD = 2,000,000)"),
    ):
        # Left out of the namespace when not given: `none` (remove the limit) is a value of its own.
        limits.add_argument(
            flag,
            type=_limit,
            default=argparse.SUPPRESS,
            metavar="N|none",
            help=f"{what}; none removes the limit",
        )
    limits.add_argument(
        "--budget-period", choices=BUDGET_PERIODS, help="when the budget starts again (month)"
    )

    keys = commands.add_parser("keys", help="API keys").add_subparsers(title="keys commands")
    create = keys.add_parser("create", parents=[common, limits], help="create a key and print it (once)")
    create.add_argument("--account", default=DEFAULT_ACCOUNT, help="account the key spends from")
    create.add_argument("--admin", action="store_true", help="allow the admin routes")
    create.add_argument("--name", default="", help="a label for listings")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="a model family the key may call (repeat; default all)",
    )
    create.set_defaults(run=_keys_create)
    update = keys.add_parser("update", parents=[common, limits], help="change a key's limits, scopes or name")
    update.add_argument("prefix")
    update.add_argument("--name", help="a label for listings")
    update.add_argument("--scope", action="append", choices=SCOPES, help="replaces the key's scopes (repeat)")
    update.add_argument("--all-scopes", action="store_true", help="let the key call every model family")
    update.set_defaults(run=_keys_update)
    keys.add_parser("list", parents=[common], help="list keys (prefixes only)").set_defaults(run=_keys_list)
    for verb in ("disable", "enable"):
        sub = keys.add_parser(verb, parents=[common], help=f"{verb} a key by its visible prefix")
        sub.add_argument("prefix")
        sub.set_defaults(run=_keys_toggle, disabled=verb == "disable")
    delete = keys.add_parser("delete", parents=[common], help="delete a key for good")
    delete.add_argument("prefix")
    delete.set_defaults(run=_keys_delete)

    accounts = commands.add_parser("accounts", help="accounts and credits").add_subparsers(
        title="accounts commands"
    )
    acc_create = accounts.add_parser("create", parents=[common, limits], help="create an account")
    acc_create.add_argument("name")
    acc_create.set_defaults(run=_accounts_create)
    acc_update = accounts.add_parser("update", parents=[common, limits], help="change an account's limits")
    acc_update.add_argument("name")
    acc_update.set_defaults(run=_accounts_update)
    topup = accounts.add_parser("topup", parents=[common], help="add (or, if negative, remove) credits")
    topup.add_argument("name")
    topup.add_argument("--credits", type=int, required=True, help="credits; 1 USD = 2,000,000")
    topup.add_argument("--note", help="why, for the ledger")
    topup.add_argument("--idempotency-key", help="a top-up with a key already used is not applied again")
    topup.set_defaults(run=_accounts_topup)
    show = accounts.add_parser("show", parents=[common], help="balance and ledger check")
    show.add_argument("name")
    show.set_defaults(run=_accounts_show)
    accounts.add_parser("list", parents=[common], help="list accounts").set_defaults(run=_accounts_list)

    models = commands.add_parser("models", help="the model catalogue").add_subparsers(title="models commands")
    listing = models.add_parser("list", parents=[common], help="list catalogue models")
    listing.add_argument("--type", help="only this type (chat-completion, image, embedding, ...)")
    listing.set_defaults(run=_models_list)

    worker = commands.add_parser(
        "worker", parents=[common], help="run asynchronous generations (tasks) without serving HTTP"
    )
    worker.set_defaults(run=_worker)

    tasks = commands.add_parser("tasks", help="asynchronous generations").add_subparsers(
        title="tasks commands"
    )
    tasks_list = tasks.add_parser("list", parents=[common], help="list recent tasks")
    tasks_list.add_argument("--account", help="only this account's")
    tasks_list.add_argument("--status", choices=("queued", "generating", "completed", "error"))
    tasks_list.add_argument("--limit", type=int, default=50)
    tasks_list.set_defaults(run=_tasks_list)
    tasks_show = tasks.add_parser("show", parents=[common], help="one task in full, with its ledger rows")
    tasks_show.add_argument("id")
    tasks_show.set_defaults(run=_tasks_show)

    db = commands.add_parser("db", help="database").add_subparsers(title="db commands")
    db.add_parser("upgrade", parents=[common], help="create or migrate the schema").set_defaults(
        run=_db_upgrade
    )
    return parser


def _limit(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0 or none, got {text!r}")
    return value


def _limits_from(args: argparse.Namespace, current: Limits = NO_LIMITS) -> Limits:
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


def _with_db(settings: Settings, action: Callable[[Database], int | None]) -> int:
    db = Database(settings.database_url)
    try:
        db.upgrade()
        return action(db) or 0
    finally:
        db.close()


# -- serve ---------------------------------------------------------------------------------
def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from omnigate.app import create_app
    from omnigate.gateway import Gateway
    from omnigate.telemetry.logs import configure as configure_logging

    if args.host:
        settings.server.host = args.host
    if args.port:
        settings.server.port = args.port
    configure_logging(settings.server)
    if args.listen_fd is None:
        _with_db(settings, _first_start)
    if args.workers > 1:
        if not settings.redis.url:
            raise ConfigError(
                "--workers needs a credit book the workers share: set [redis] url (or OMNIGATE_REDIS_URL)"
            )
        return _supervise(settings, args)
    if args.listen_fd is None and settings.telemetry.metrics and os.environ.get(MULTIPROC_ENV):
        # One process in multiprocess mode (the operator set the folder): a previous run's
        # figures must not count, as the supervisor sees to with several workers.
        from omnigate.telemetry.metrics import clean_multiprocess_dir

        clean_multiprocess_dir(os.environ[MULTIPROC_ENV])
    _use_uvloop()
    app = create_app(Gateway.build(settings))
    # The catalogue and config are built once and live as long as the process: keep them out of
    # the garbage collector's way, so its passes stay short under load.
    gc.freeze()
    if args.listen_fd is not None:
        web.run_app(app, sock=socket.socket(fileno=args.listen_fd), access_log=None, print=None)
        return 0
    url = f"http://{settings.server.host}:{settings.server.port}"
    print(f"Omnigate listening on {url} (dashboard: {url}/ui)", flush=True)
    web.run_app(app, host=settings.server.host, port=settings.server.port, access_log=None, print=None)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    """The task runner alone: for machines that run tasks beside (or instead of) the servers,
    which then set [tasks] run = false. It stops on SIGTERM or Ctrl-C, handing its tasks back."""
    from omnigate.gateway import Gateway
    from omnigate.telemetry.logs import configure as configure_logging

    configure_logging(settings.server)
    _with_db(settings, lambda db: None)

    async def run() -> None:
        gateway = Gateway.build(settings)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await gateway.start(run_tasks=True)
        print("Omnigate task worker running", flush=True)
        try:
            await stopping.wait()
        finally:
            await gateway.stop()

    asyncio.run(run())
    return 0


def _supervise(settings: Settings, args: argparse.Namespace) -> int:
    """Run N worker processes on one listening socket; stop them all when one exits or on a signal.

    The supervisor binds the socket and the workers inherit it, all accepting from one queue (the
    pre-fork model), rather than binding one socket each with SO_REUSEPORT: there, connections
    queued on a socket of a worker that is still starting can wait forever.
    """
    listener = socket.create_server((settings.server.host, settings.server.port), backlog=4096)
    listener.set_inheritable(True)
    command = [sys.executable, "-m", "omnigate.cli", "serve", "--listen-fd", str(listener.fileno())]
    if args.config:
        command += ["--config", args.config]
    env, own_metrics_dir = _metrics_env(settings)
    workers = [subprocess.Popen(command, pass_fds=(listener.fileno(),), env=env) for _ in range(args.workers)]
    print(
        f"Omnigate listening on http://{settings.server.host}:{settings.server.port} "
        f"with {args.workers} workers (dashboard: /ui)",
        flush=True,
    )

    def stop(*_: object) -> None:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while all(worker.poll() is None for worker in workers):
        time.sleep(0.2)
    stop()
    # A worker still starting when the stop came dies of the SIGTERM itself: a clean stop too.
    codes = [0 if worker.wait() == -signal.SIGTERM else worker.returncode for worker in workers]
    if own_metrics_dir:
        shutil.rmtree(own_metrics_dir, ignore_errors=True)
    return max(codes, key=abs)


def _metrics_env(settings: Settings) -> tuple[dict[str, str], str | None]:
    """The workers' environment: with metrics on, a folder where each worker writes its figures
    and from which the scraped one adds them all up (prometheus_client's multiprocess mode).
    The operator's $PROMETHEUS_MULTIPROC_DIR if set, else a temporary folder; emptied first, so
    a previous run's figures do not count. Returns the folder to delete at exit, if ours."""
    env = dict(os.environ)
    if not settings.telemetry.metrics:
        env.pop(MULTIPROC_ENV, None)
        return env, None
    from omnigate.telemetry.metrics import clean_multiprocess_dir

    folder = env.get(MULTIPROC_ENV)
    own = None
    if folder:
        clean_multiprocess_dir(folder)
    else:
        folder = own = tempfile.mkdtemp(prefix="omnigate-metrics-")
    env[MULTIPROC_ENV] = folder
    return env, own


# -- tasks ---------------------------------------------------------------------------------
def _tasks_list(settings: Settings, args: argparse.Namespace) -> int:
    def run(db: Database) -> None:
        account_id = db.account(args.account).id if args.account else None
        rows = db.list_tasks(account_id=account_id, status=args.status, limit=args.limit)
        print(f"{'created':<20} {'status':<11} {'charged':>10} {'refunded':>10}  id")
        for t in rows:
            refunded = "" if t.refunded is None else str(t.refunded)
            charged = "" if t.charged is None else str(t.charged)
            print(f"{t.created_at:%Y-%m-%d %H:%M:%S} {t.status:<11} {charged:>10} {refunded:>10}  {t.id}")

    return _with_db(settings, run)


def _tasks_show(settings: Settings, args: argparse.Namespace) -> int:
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

    return _with_db(settings, run)


def _first_start(db: Database) -> None:
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


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# -- keys ----------------------------------------------------------------------------------
def _keys_create(settings: Settings, args: argparse.Namespace) -> int:
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
            limits=_limits_from(args),
            scopes=tuple(dict.fromkeys(args.scope or ())),
        )
        print(key)

    return _with_db(settings, action)


def _keys_update(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        current = db.key(args.prefix)
        scopes = () if args.all_scopes else tuple(dict.fromkeys(args.scope)) if args.scope else None
        row = db.update_key(
            args.prefix,
            origin=CLI_ORIGIN,
            name=args.name,
            limits=_limits_from(args, current.limits),
            scopes=scopes,
        )
        print(f"key {row.prefix}: {_describe(row.limits)}; scopes: {', '.join(row.scopes) or 'all'}")

    return _with_db(settings, action)


def _keys_delete(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        db.delete_key(args.prefix, origin=CLI_ORIGIN)
        print(f"key {args.prefix} deleted")

    return _with_db(settings, action)


def _describe(limits: Limits) -> str:
    parts = [
        f"{name} {value}"
        for name, value in (("rpm", limits.rpm), ("tpm", limits.tpm), ("concurrency", limits.concurrency))
        if value is not None
    ]
    if limits.budget is not None:
        parts.append(f"budget {limits.budget} credits per {limits.budget_period}")
    return ", ".join(parts) or "no limits"


def _keys_list(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        names = {a.id: a.name for a in db.list_accounts()}
        print(f"{'PREFIX':<14} {'ACCOUNT':<20} {'ADMIN':<6} {'STATE':<9} {'CREATED':<20} NAME")
        for k in db.list_keys():
            state = "disabled" if k.disabled else "active"
            created = k.created_at.strftime("%Y-%m-%d %H:%M:%S")
            admin = "yes" if k.admin else "no"
            account = names.get(k.account_id, "?")
            print(f"{k.prefix:<14} {account:<20} {admin:<6} {state:<9} {created:<20} {k.name}")

    return _with_db(settings, action)


def _keys_toggle(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        row = db.set_key_disabled(args.prefix, args.disabled, origin=CLI_ORIGIN)
        print(f"key {row.prefix} is now {'disabled' if row.disabled else 'active'}")

    return _with_db(settings, action)


# -- accounts ------------------------------------------------------------------------------
def _accounts_create(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        row = db.create_account(
            args.name,
            low_balance_threshold=settings.billing.low_balance_threshold,
            origin=CLI_ORIGIN,
            limits=_limits_from(args),
        )
        print(f"created account {row.name} (id {row.id}) with 0 credits; {_describe(row.limits)}")

    return _with_db(settings, action)


def _accounts_update(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        current = db.account(args.name)
        row = db.set_account_limits(current.id, _limits_from(args, current.limits), origin=CLI_ORIGIN)
        print(f"account {row.name}: {_describe(row.limits)}")

    return _with_db(settings, action)


def _accounts_topup(settings: Settings, args: argparse.Namespace) -> int:
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

    return _with_db(settings, action)


def _accounts_show(settings: Settings, args: argparse.Namespace) -> int:
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

    return _with_db(settings, action)


def _accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        print(f"{'ID':<6} {'NAME':<24} {'BALANCE':>16}")
        for a in db.list_accounts():
            print(f"{a.id:<6} {a.name:<24} {a.balance:>16}")

    return _with_db(settings, action)


# -- models and db -------------------------------------------------------------------------
def _models_list(settings: Settings, args: argparse.Namespace) -> int:
    from omnigate.catalog.loader import Catalog

    catalog = Catalog.load()
    shown = [m for m in catalog.models if not args.type or m.type == args.type]
    for m in shown:
        print(f"{m.id:<56} {m.type:<16} {m.developer}")
    print(f"{len(shown)} models", file=sys.stderr)
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    def action(db: Database) -> None:
        print(f"database {settings.database_url}: schema version {db.upgrade()}")

    return _with_db(settings, action)


if __name__ == "__main__":
    sys.exit(main())
