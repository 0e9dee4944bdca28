"""A lean Redis client for the credit book's hot path: one connection, commands pipelined.

Every command is written to the socket at once and its reply is matched in order, so concurrent
requests share one connection and one read per batch of replies, with no pool to check out.
redis-py's asyncio client costs several times the CPU per call, which showed as a third of the
gateway's time per request in the Redis mode. Replies are parsed by hiredis. Errors are redis-py's
exception types, so callers catch `redis.RedisError` whichever client they talk to.

A reply that does not come within the timeout closes the connection (what comes later could not
be matched to its command any more) and fails every command waiting on it; the next call connects
again. One watchdog per connection checks the oldest command, rather than a timer per command.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
import redis


class _Protocol(asyncio.Protocol):
    def __init__(self, timeout_s: float) -> None:
        self.transport: asyncio.Transport | None = None
        # Each command waiting for its reply, with when it was sent.
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.reader = hiredis.Reader(replyError=redis.ResponseError)
        self.lost = False
        self.timeout_s = timeout_s
        self._watchdog: asyncio.Task[None] | None = None
        # Commands sent in one turn of the event loop leave in one write (one system call).
        self._outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((future, loop.time()))
        if not self._outgoing:
            loop.call_soon(self._write)
        self._outgoing.append(hiredis.pack_command(args))
        return future

    def _write(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        if self.transport is not None and not self.lost:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future, _ = self.waiting.popleft()
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, redis.ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.fail(redis.ConnectionError(f"the connection to Redis was lost ({exc or 'closed'})"))

    def close(self) -> None:
        self.lost = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.transport is not None:
            self.transport.close()

    def fail(self, error: Exception) -> None:
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.timeout_s / 4)
            if self.waiting and loop.time() - self.waiting[0][1] > self.timeout_s:
                # Later replies could not be matched to their commands: start over on a new one.
                self.fail(redis.TimeoutError(f"Redis did not answer within {self.timeout_s:g}s"))
                self.close()
                return


class RespClient:
    """Commands and scripts over one pipelined connection (redis:// or rediss:// URLs)."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported Redis URL {url!r}: use redis:// or rediss://")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._tls = parts.scheme == "rediss"
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._db = int(parts.path.strip("/") or 0)
        self._timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None
        self._shas: dict[str, str] = {}

    async def call(self, *args: Any) -> Any:
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._connect()
        return await protocol.send(args)

    async def eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run a script by its hash, loading it first where Redis does not know it (yet)."""
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest()
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except redis.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.call("SCRIPT", "LOAD", script)
        return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and not self._protocol.lost:
                return self._protocol  # another caller connected meanwhile
            loop = asyncio.get_running_loop()
            tls = ssl.create_default_context() if self._tls else None
            try:
                async with asyncio.timeout(self._timeout_s):
                    _, protocol = await loop.create_connection(
                        lambda: _Protocol(self._timeout_s), self._host, self._port, ssl=tls
                    )
            except (OSError, TimeoutError) as exc:
                raise redis.ConnectionError(f"cannot connect to Redis at {self._host}:{self._port}") from exc
            if self._password is not None:
                auth = (self._username, self._password) if self._username else (self._password,)
                await protocol.send(("AUTH", *auth))
            if self._db:
                await protocol.send(("SELECT", self._db))
            self._protocol = protocol
            return protocol
