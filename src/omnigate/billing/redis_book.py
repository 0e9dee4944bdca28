"""Live balances and reservations in Redis, shared by every worker and replica.

One hash per account: `balance` (settled credits, ahead of the ledger by what the workers have not
flushed yet) and one `r:<worker>` field per worker holding the sum of that worker's reservations.
Each check-and-reserve and each settlement is one Lua script, so it is atomic across processes.
A worker keeps a heartbeat key alive; the scripts drop the holds of workers whose heartbeat
expired, so a killed worker cannot freeze an account's credits.

The database stays the record: the ledger rows and the balance they sum to. Redis starts each
account from the database balance; top-ups reach Redis at once (CLI and admin API), so the
change feed never overwrites a live balance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import redis
import redis.asyncio as aioredis

from omnigate.billing.book import BalanceView, InsufficientCredits, LedgerQueue, Reservation, Usage
from omnigate.store.db import AccountRow

log = logging.getLogger(__name__)
HEARTBEAT_S = 5
HEARTBEAT_TTL_S = 20

# Sums the holds of live workers and forgets those of dead ones; shared by the scripts below.
_LIVE_HOLDS = """
local function live_holds(key, prefix)
  local total = 0
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name = fields[i]
    if string.sub(name, 1, 2) == 'r:' then
      if redis.call('EXISTS', prefix .. 'worker:' .. string.sub(name, 3)) == 1 then
        total = total + tonumber(fields[i + 1])
      else
        redis.call('HDEL', key, name)
      end
    end
  end
  return total
end
"""

# KEYS[1] account hash; ARGV: amount, database balance (to start a missing hash), worker, prefix
RESERVE = (
    _LIVE_HOLDS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'balance', ARGV[2]) end
local amount = tonumber(ARGV[1])
local available = tonumber(redis.call('HGET', KEYS[1], 'balance')) - live_holds(KEYS[1], ARGV[4])
if amount > 0 and available < amount then return {0, available} end
redis.call('HINCRBY', KEYS[1], 'r:' .. ARGV[3], amount)
return {1, available - amount}
"""
)

# KEYS[1] account hash; ARGV: reserved amount, cost, worker, prefix. Returns the credits charged.
SETTLE = (
    _LIVE_HOLDS
    + """
redis.call('HINCRBY', KEYS[1], 'r:' .. ARGV[3], -tonumber(ARGV[1]))
local available = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0') - live_holds(KEYS[1], ARGV[4])
local charged = math.max(math.min(tonumber(ARGV[2]), available), 0)
redis.call('HINCRBY', KEYS[1], 'balance', -charged)
return charged
"""
)

# KEYS[1] account hash; ARGV: credits. A missing hash starts later from the database, which
# already holds the top-up.
TOP_UP = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1]) end"


def account_key(prefix: str, account_id: int) -> str:
    return f"{prefix}account:{account_id}"


def top_up_sync(url: str, prefix: str, account_id: int, credits: int) -> None:
    """For the CLI: move a live balance after the database took the top-up."""
    client = redis.Redis.from_url(url)
    try:
        client.eval(TOP_UP, 1, account_key(prefix, account_id), credits)
    finally:
        client.close()


class RedisCreditBook(LedgerQueue):
    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.worker = uuid.uuid4().hex[:12]
        self._redis = aioredis.Redis.from_url(url)
        self._reserve = self._redis.register_script(RESERVE)
        self._settle = self._redis.register_script(SETTLE)
        self._top_up = self._redis.register_script(TOP_UP)
        self._heartbeat: asyncio.Task | None = None

    async def start(self) -> None:
        await self._beat()
        self._heartbeat = asyncio.create_task(self._keep_alive(), name="omnigate-redis-heartbeat")

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        # Whatever this worker still holds is released at once, not after the heartbeat expires.
        with contextlib.suppress(redis.RedisError):
            await self._redis.delete(f"{self.prefix}worker:{self.worker}")
        await self._redis.aclose()

    async def _beat(self) -> None:
        await self._redis.set(f"{self.prefix}worker:{self.worker}", 1, ex=HEARTBEAT_TTL_S)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except redis.RedisError:
                log.exception("redis heartbeat failed")

    def _key(self, account_id: int) -> str:
        return account_key(self.prefix, account_id)

    async def reserve(self, account_id: int, amount: int) -> Reservation:
        start = self.accounts[account_id].db_balance
        ok, available = await self._reserve(
            keys=[self._key(account_id)], args=[amount, start, self.worker, self.prefix]
        )
        if not ok:
            raise InsufficientCredits(available=max(int(available), 0), needed=amount)
        return Reservation(account_id, amount)

    async def release(self, reservation: Reservation) -> None:
        if not reservation.done:
            reservation.done = True
            await self._redis.hincrby(
                self._key(reservation.account_id), f"r:{self.worker}", -reservation.amount
            )

    async def settle(self, reservation: Reservation, cost: int, usage: Usage) -> int:
        if reservation.done:
            return 0
        reservation.done = True
        charged = int(
            await self._settle(
                keys=[self._key(reservation.account_id)],
                args=[reservation.amount, cost, self.worker, self.prefix],
            )
        )
        self._record(reservation.account_id, charged, cost, usage)
        return charged

    async def topped_up(self, row: AccountRow, credits: int) -> None:
        self.refresh(row)
        await self._top_up(keys=[self._key(row.id)], args=[credits])

    async def view(self, account_id: int) -> BalanceView:
        state = self.accounts[account_id]
        live = await self._redis.hget(self._key(account_id), "balance")
        balance = int(live) if live is not None else state.balance
        return BalanceView(balance, state.low_balance_threshold, state.updated_at)
