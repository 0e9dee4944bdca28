"""The outside services some tests need: probes (so a module can skip, saying what is missing)
and fresh, isolated places in them (a PostgreSQL schema, a Redis key prefix) for each test."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
_POSTGRES_DRIVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _missing(reason: str) -> str:
    """A reason to skip, unless the run requires the services (CI sets OMNIGATE_REQUIRE_SERVICES:
    there a skipped test of the scaled-out mode would be a test not run)."""
    if os.environ.get("OMNIGATE_REQUIRE_SERVICES"):
        raise RuntimeError(f"OMNIGATE_REQUIRE_SERVICES is set and {reason}")
    return reason


def program_missing(path: str, install: str) -> str | None:
    """Why a program the tests drive (Chromium, say) cannot be used, or None when it is there."""
    return None if Path(path).exists() else _missing(f"{path} is not installed ({install})")


def redis_missing() -> str | None:
    """Why Redis cannot be used (for a skip reason), or None when it answers a ping."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return None
    except redis.RedisError as exc:
        return _missing(f"Redis at {REDIS_URL} is not reachable ({type(exc).__name__})")


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be used (for a skip reason), or None when it answers."""
    try:
        engine = create_engine(_POSTGRES_DRIVER_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no server to test against
        return _missing(f"PostgreSQL at 127.0.0.1:5432/test is not reachable ({type(exc).__name__})")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables live in a schema of their own, dropped afterwards: runs stay
    independent without touching shared tables."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_POSTGRES_DRIVER_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield POSTGRES_URL + f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own in the shared Redis, cleared afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


@dataclass
class PrivateService:
    """A server of our own for a fault test to stop, pause and restart without disturbing others."""

    url: str
    process: subprocess.Popen | None = None
    restart: Callable[[], None] = lambda: None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateService]:
    """A redis-server of our own (SIGSTOP it to see what a hung Redis does)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(_missing("redis-server is not installed"))
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield PrivateService(f"redis://127.0.0.1:{port}/0", process)
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivateService]:
    """A PostgreSQL cluster of our own (restart it under load). As root, the server runs as the
    `postgres` user, which PostgreSQL requires; its folder is outside pytest's (private) tmp."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        pytest.skip(_missing("PostgreSQL's server binaries are not installed"))
    bin_dir = found[-1].parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="omnigate-pg-"))
    data = folder / "pgdata"
    data.mkdir(parents=True)
    if as_postgres:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [
        *as_postgres,
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(folder / "pg.log"),
    ]

    def restart() -> None:
        subprocess.run([*ctl, "-m", "fast", "restart"], check=True, capture_output=True)

    subprocess.run([*ctl, "start"], check=True, capture_output=True)
    try:
        yield PrivateService(f"postgresql://postgres@127.0.0.1:{port}/postgres", restart=restart)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
