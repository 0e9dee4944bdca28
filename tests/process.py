"""`omnigate serve` as a separate process, for tests that kill it, restart it or run workers."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.services import REDIS_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_config(tmp_path: Path, upstream_url: str) -> tuple[Path, str]:
    """A config (see write_config) for workers sharing the test Redis under a key prefix of their
    own: its path and that prefix."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    config = tmp_path / "omnigate.toml"
    write_config(
        config,
        data_dir=tmp_path / "data",
        upstream_url=upstream_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
    )
    return config, prefix


def write_config(
    path: Path,
    *,
    data_dir: Path,
    upstream_url: str,
    database_url: str = "",
    redis_url: str = "",
    redis_prefix: str = "",
    flush_interval_s: float = 0.2,
) -> None:
    """A config with the built-in engines off and gpt-4o routed (and priced) to `upstream_url`."""
    path.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{data_dir}"
            [engines]
            builtin = false
            [database]
            url = "{database_url}"
            [redis]
            url = "{redis_url}"
            prefix = "{redis_prefix}"
            [billing]
            flush_interval_s = {flush_interval_s}
            [routing]
            max_attempts = 1
            read_timeout_s = 2.0
            [providers.fake]
            base_url = "{upstream_url}"
            api_key = "sk-fake"
            [[routes]]
            model = "gpt-4o"
            provider = "fake"
            [[prices]]
            model = "gpt-4o"
            input_per_million = 1.0
            output_per_million = 2.0
            """
        )
    )


@dataclass
class Server:
    """A running `omnigate serve` (its own process group, so a kill reaches every worker)."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9, every process of it: nothing runs its shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def start_server(config: Path, *, workers: int = 1, log_name: str = "serve.log") -> Server:
    port = free_port()
    log_path = config.parent / log_name
    env = {**os.environ, "OMNIGATE_CONFIG": str(config)}
    command = [sys.executable, "-m", "omnigate.cli", "serve", "--port", str(port), "--workers", str(workers)]
    with log_path.open("w") as log:  # a file, not a pipe nobody reads (that would block the server)
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while True:  # a worker answering /models is ready
            try:
                async with http.get(server.url + "/models") as response:
                    if response.status == 200:
                        return server
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                server.kill() if process.poll() is None else None
                raise RuntimeError(f"omnigate serve did not start:\n{server.log()}")
            await asyncio.sleep(0.1)


# Request ids stay unique across every load of a test run.
_REQUEST_NUMBERS = itertools.count()
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "bill me"}], "max_tokens": 8}


@dataclass
class Load:
    answered: list[str] = field(default_factory=list)  # request ids answered 200
    statuses: Counter = field(default_factory=Counter)  # status (or "gone") -> count


async def load(url: str, key: str, seconds: float, *, clients: int = 8) -> Load:
    """`clients` clients sending chat completions back to back, each with its own long
    X-Client-Request-Id (as clients send them), until `seconds` pass or the server goes."""
    result = Load()
    deadline = time.monotonic() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            request_id = f"load-{next(_REQUEST_NUMBERS):06d}-" + "x" * 90
            try:
                async with http.post(
                    url + "/v1/chat/completions", json=CHAT, headers={"X-Client-Request-Id": request_id}
                ) as response:
                    await response.read()
            except aiohttp.ClientError:
                result.statuses["gone"] += 1
                return
            result.statuses[response.status] += 1
            if response.status == 200:
                result.answered.append(request_id)

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return result
