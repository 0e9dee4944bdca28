"""The `omnigate` command: serve | worker | keys | accounts | tasks | models | db."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from omnigate import cli_admin as admin
from omnigate.http.scopes import SCOPES
from omnigate.settings import ConfigError, Settings, load_settings
from omnigate.store.db import StoreError
from omnigate.store.rows import BUDGET_PERIODS

# Where prometheus_client's multiprocess mode keeps each worker's figures (telemetry/metrics.py).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
            type=admin.limit,
            default=argparse.SUPPRESS,
            metavar="N|none",
            help=f"{what}; none removes the limit",
        )
    limits.add_argument(
        "--budget-period", choices=BUDGET_PERIODS, help="when the budget starts again (month)"
    )

    keys = commands.add_parser("keys", help="API keys").add_subparsers(title="keys commands")
    create = keys.add_parser("create", parents=[common, limits], help="create a key and print it (once)")
    create.add_argument("--account", default=admin.DEFAULT_ACCOUNT, help="account the key spends from")
    create.add_argument("--admin", action="store_true", help="allow the admin routes")
    create.add_argument("--name", default="", help="a label for listings")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="a model family the key may call (repeat; default all)",
    )
    create.set_defaults(run=admin.keys_create)
    update = keys.add_parser("update", parents=[common, limits], help="change a key's limits, scopes or name")
    update.add_argument("prefix")
    update.add_argument("--name", help="a label for listings")
    update.add_argument("--scope", action="append", choices=SCOPES, help="replaces the key's scopes (repeat)")
    update.add_argument("--all-scopes", action="store_true", help="let the key call every model family")
    update.set_defaults(run=admin.keys_update)
    keys.add_parser("list", parents=[common], help="list keys (prefixes only)").set_defaults(
        run=admin.keys_list
    )
    for verb in ("disable", "enable"):
        sub = keys.add_parser(verb, parents=[common], help=f"{verb} a key by its visible prefix")
        sub.add_argument("prefix")
        sub.set_defaults(run=admin.keys_toggle, disabled=verb == "disable")
    delete = keys.add_parser("delete", parents=[common], help="delete a key for good")
    delete.add_argument("prefix")
    delete.set_defaults(run=admin.keys_delete)

    accounts = commands.add_parser("accounts", help="accounts and credits").add_subparsers(
        title="accounts commands"
    )
    acc_create = accounts.add_parser("create", parents=[common, limits], help="create an account")
    acc_create.add_argument("name")
    acc_create.set_defaults(run=admin.accounts_create)
    acc_update = accounts.add_parser("update", parents=[common, limits], help="change an account's limits")
    acc_update.add_argument("name")
    acc_update.set_defaults(run=admin.accounts_update)
    topup = accounts.add_parser("topup", parents=[common], help="add (or, if negative, remove) credits")
    topup.add_argument("name")
    topup.add_argument("--credits", type=int, required=True, help="credits; 1 USD = 2,000,000")
    topup.add_argument("--note", help="why, for the ledger")
    topup.add_argument("--idempotency-key", help="a top-up with a key already used is not applied again")
    topup.set_defaults(run=admin.accounts_topup)
    show = accounts.add_parser("show", parents=[common], help="balance and ledger check")
    show.add_argument("name")
    show.set_defaults(run=admin.accounts_show)
    accounts.add_parser("list", parents=[common], help="list accounts").set_defaults(run=admin.accounts_list)

    models = commands.add_parser("models", help="the model catalogue").add_subparsers(title="models commands")
    listing = models.add_parser("list", parents=[common], help="list catalogue models")
    listing.add_argument("--type", help="only this type (chat-completion, image, embedding, ...)")
    listing.set_defaults(run=admin.models_list)

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
    tasks_list.set_defaults(run=admin.tasks_list)
    tasks_show = tasks.add_parser("show", parents=[common], help="one task in full, with its ledger rows")
    tasks_show.add_argument("id")
    tasks_show.set_defaults(run=admin.tasks_show)

    db = commands.add_parser("db", help="database").add_subparsers(title="db commands")
    db.add_parser("upgrade", parents=[common], help="create or migrate the schema").set_defaults(
        run=admin.db_upgrade
    )
    return parser


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
        admin.with_db(settings, admin.first_start)
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
    admin.with_db(settings, lambda db: None)

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


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    sys.exit(main())
