"""`omnigate serve --workers 2` with Redis: two processes, one exact balance."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest
import redis

from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.process import start_server, workers_config
from tests.server import funded_account
from tests.services import REDIS_URL, redis_missing

# Probed once: each probe of a missing Redis waits out its connect timeout.
_NO_REDIS = redis_missing()
pytestmark = pytest.mark.skipif(_NO_REDIS is not None, reason=_NO_REDIS or "")


async def test_two_workers_keep_credits_exact(tmp_path: Path) -> None:
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    config, prefix = workers_config(tmp_path, upstream.base_url)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "race"}], "max_tokens": 10}
    # The SDK sends compact JSON; each request reserves (body bytes x 2) + (10 x 4) credits.
    per_request = len(json.dumps(body, separators=(",", ":"))) * 2 + 10 * 4
    db, account, key = funded_account(
        f"sqlite:///{tmp_path / 'data' / 'omnigate.db'}",
        per_request * 10,
        name="racer",
        low_balance_threshold=0,
    )
    server = await start_server(config, workers=2)
    try:
        served: list[str | None] = []  # the worker's id prefix of each paid answer, None for a 403
        workers: set[str] = set()  # the workers that answered at all (403s carry the id too)
        rounds = 0
        # Fresh connections each round; the kernel hands each to whichever worker accepts first,
        # so rounds go on (bounded) until both workers have been seen.
        while rounds < 5 or (len(workers) < 2 and rounds < 30):
            rounds += 1
            async with openai.AsyncOpenAI(
                base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=30
            ) as client:

                async def one(client: openai.AsyncOpenAI = client) -> str | None:
                    try:
                        reply = await client.chat.completions.with_raw_response.create(**body)
                    except openai.PermissionDeniedError as exc:
                        workers.add(exc.response.headers["x-request-id"].rsplit("-", 1)[0])
                        return None
                    worker = reply.headers["x-request-id"].rsplit("-", 1)[0]
                    workers.add(worker)
                    return worker

                served += await asyncio.gather(*(one() for _ in range(10)))
        ok = [s for s in served if s is not None]
        assert 10 <= len(ok) < len(served)
        assert len(workers) == 2, "both workers should have answered"
    finally:
        server.stop()
        await upstream.stop()

    final = db.account(account.id)
    charges = [e for e in db.ledger_entries(account.id) if e.kind == "charge"]
    assert len(charges) == len(ok)  # every served request is in the ledger, none lost at shutdown
    assert final.balance >= 0
    assert db.ledger_sum(account.id) == final.balance
    assert not any(e.note and "capped" in e.note for e in charges)
    db.close()
    client_redis = redis.Redis.from_url(REDIS_URL)
    assert int(client_redis.hget(f"{prefix}account:{account.id}", "balance")) == final.balance
    for k in client_redis.scan_iter(f"{prefix}*"):
        client_redis.delete(k)
