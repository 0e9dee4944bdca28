"""file_search over real uploads with the real local MiniLM model, on the embedded stack (SQLite,
credits in memory) and the scaled-out one (PostgreSQL, credits in Redis): a question finds its
chunk, files are indexed and charged once, and only the account's live files are searched."""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from omnigate.engines.minilm import find_minilm_dir
from omnigate.errors import ApiError
from omnigate.gateway import Gateway
from omnigate.knowledge import indexing
from omnigate.knowledge.search import Hit, search_files
from omnigate.settings import load_settings
from omnigate.store import schema
from omnigate.store.db import Database
from omnigate.store.rows import KeyRow
from omnigate.store.uploads import UploadRow
from tests.e2e.conftest import STACKS, Stack, stack
from tests.knowledge.documents import RECIPES
from tests.server import funded_account

EMBED = "local/all-minilm-l6-v2"
STARTING = 1_000_000
# 1 USD per million tokens is 2 credits a token (1 credit = 0.0000005 USD).
CREDITS_PER_TOKEN = 2

pytestmark = pytest.mark.skipif(find_minilm_dir() is None, reason="make install-test installs MiniLM")


@dataclass
class Setup:
    gateway: Gateway
    db: Database
    account_id: int
    key: KeyRow
    other_account_id: int  # another account, without credits
    other_key: KeyRow

    async def upload(self, filename: str, content: bytes, *, account_id: int | None = None) -> str:
        file_id = "file-" + secrets.token_hex(12)
        row = UploadRow(
            id=file_id,
            account_id=account_id or self.account_id,
            filename=filename,
            purpose="assistants",
            bytes=len(content),
            created_at=datetime.now(UTC),
            expires_at=None,
            content_type=mimetypes.guess_type(filename)[0] or "application/octet-stream",
        )
        await asyncio.to_thread(self.db.save_upload, row, content)
        return file_id

    async def search(
        self, file_ids: list[str], query: str, *, key: KeyRow | None = None, k: int = 5
    ) -> list[Hit]:
        return await search_files(self.gateway, key or self.key, file_ids, query, k=k, request_id="req-1")

    async def balance(self) -> int:
        await self.gateway.book.drain()
        await self.gateway.sync.flush()
        return self.db.account(self.account_id).balance

    def ledger_notes(self, prefix: str) -> list[tuple[str, int]]:
        ledger = schema.ledger
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(ledger.c.note, ledger.c.amount).where(ledger.c.note.like(f"{prefix}%"))
            )
            return [(r.note, r.amount) for r in rows]


@pytest.fixture(params=STACKS)
def services(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with stack(request.param) as found:
        yield found


@pytest.fixture
async def setup(tmp_path: Path, services: Stack) -> AsyncIterator[Setup]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"
            [database]
            url = "{services.database_url}"
            [redis]
            url = "{services.redis_url}"
            prefix = "{services.redis_prefix}"
            [billing]
            flush_interval_s = 0.05
            poll_interval_s = 0.1
            [assistants]
            # Small chunks, so that a small document has several.
            chunk_tokens = 48
            chunk_overlap_tokens = 16
            [[prices]]
            model = "{EMBED}"
            input_per_million = 1.0
            """
        )
    )
    settings = load_settings(config)
    db, account, key = funded_account(settings.database_url, STARTING)
    other = db.create_account("other", low_balance_threshold=0, origin="test")
    other_key, _ = db.create_key("other", admin=False, origin="test")
    gateway = Gateway.build(settings)
    await gateway.start(run_tasks=False)
    try:
        keys = gateway.keys
        yield Setup(
            gateway,
            db,
            account.id,
            await keys.authenticate(f"Bearer {key}"),
            other.id,
            await keys.authenticate(f"Bearer {other_key}"),
        )
    finally:
        await gateway.stop()
        db.close()


async def test_a_question_finds_the_chunk_of_its_recipe(setup: Setup) -> None:
    file_id = await setup.upload("recipes.txt", RECIPES.encode())
    hits = await setup.search([file_id], "How long do the chocolate brownies bake?", k=3)
    assert len(hits) == 3
    assert (hits[0].file_id, hits[0].filename) == (file_id, "recipes.txt")
    assert "brownies" in hits[0].text and "bake" in hits[0].text
    assert hits[0].text in RECIPES
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    [soup] = await setup.search([file_id], "What do I blend with vegetable stock for the soup?", k=1)
    assert "Tomato soup" in soup.text or "tomatoes" in soup.text


async def test_indexing_is_charged_once_however_many_searches_need_it(setup: Setup) -> None:
    file_id = await setup.upload("recipes.txt", RECIPES.encode())
    embedder = setup.gateway.local.embedders[EMBED]
    inputs: list[int] = []
    embed = embedder.embed

    async def counted(body: dict) -> dict:
        inputs.append(len(body["input"]))
        return await embed(body)

    embedder.embed = counted  # type: ignore[method-assign]
    questions = ["brownies", "pancakes", "soup"]
    await asyncio.gather(*(setup.search([file_id], q) for q in questions))
    await setup.search([file_id], "basil")

    with setup.db.engine.connect() as conn:
        [index] = conn.execute(select(schema.file_indexes)).all()
    assert (index.file_id, index.status, index.model) == (file_id, "ready", EMBED)
    assert inputs.count(index.chunks) == 1 and index.chunks > 1  # the chunks, embedded once
    assert inputs.count(1) == 4  # then each query
    balance = await setup.balance()  # the ledger, once every charge is in
    indexed = setup.ledger_notes(f"file_search index of {file_id}")
    queries = setup.ledger_notes("file_search query")
    assert len(indexed) == 1 and len(queries) == 4
    assert all(amount < 0 for _, amount in indexed + queries)
    spent = sum(-amount for _, amount in indexed + queries)
    assert balance == STARTING - spent
    view = await setup.gateway.book.view(setup.account_id)
    assert view.balance == STARTING - spent  # the live balance took each charge once too


async def test_a_slow_indexer_keeps_its_claim_past_the_lease(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An embedding call longer than the lease (an upstream taking minutes, here 1.5 s against a
    1 s lease) is not taken for a dead holder: the waiting search does not index the file too."""
    monkeypatch.setattr(indexing, "LEASE_S", 1.0)
    file_id = await setup.upload("recipes.txt", RECIPES.encode())
    embedder = setup.gateway.local.embedders[EMBED]
    inputs: list[int] = []
    embed = embedder.embed

    async def slow(body: dict) -> dict:
        inputs.append(len(body["input"]))
        if len(body["input"]) > 1:
            await asyncio.sleep(1.5)
        return await embed(body)

    embedder.embed = slow  # type: ignore[method-assign]
    both = asyncio.gather(setup.search([file_id], "brownies"), setup.search([file_id], "soup"))
    # Were the claim lost, the two searches would take the file from each other without end.
    await asyncio.wait_for(both, timeout=60)
    assert len([n for n in inputs if n > 1]) == 1


async def test_a_deleted_file_is_not_searched(setup: Setup) -> None:
    file_id = await setup.upload("recipes.txt", RECIPES.encode())
    assert await setup.search([file_id], "brownies")
    assert await asyncio.to_thread(setup.db.delete_upload, file_id, setup.account_id)
    assert await setup.search([file_id], "brownies") == []
    assert setup.db.indexed_chunks([file_id], EMBED) == []


async def test_another_accounts_file_is_not_searched_nor_indexed(setup: Setup) -> None:
    theirs = await setup.upload("theirs.txt", RECIPES.encode(), account_id=setup.other_account_id)
    mine = await setup.upload("mine.txt", b"Soda bread needs buttermilk and baking soda.")
    hits = await setup.search([theirs, mine, "file-missing", "file-\x00"], "brownies")
    assert {h.file_id for h in hits} == {mine}
    with setup.db.engine.connect() as conn:
        assert conn.scalars(select(schema.file_indexes.c.file_id)).all() == [mine]


async def test_an_empty_file_has_nothing_to_find_and_costs_nothing(setup: Setup) -> None:
    file_id = await setup.upload("empty.txt", b"  \n")
    assert await setup.search([file_id], "anything") == []
    assert await setup.balance() == STARTING  # no chunk, so no query embedded
    with setup.db.engine.connect() as conn:
        assert conn.execute(select(schema.file_indexes.c.status, schema.file_indexes.c.chunks)).all() == [
            ("ready", 0)
        ]


async def test_an_unreadable_file_is_refused_naming_it_and_nothing_is_kept(setup: Setup) -> None:
    file_id = await setup.upload("sheet.xlsx", b"PK\x03\x04 not text")
    with pytest.raises(ApiError) as refused:
        await setup.search([file_id], "totals")
    assert (refused.value.status, refused.value.param) == (400, "file_ids")
    assert file_id in refused.value.message and "sheet.xlsx" in refused.value.message
    assert "(xlsx)" in refused.value.message
    with setup.db.engine.connect() as conn:
        assert conn.execute(select(schema.file_indexes)).all() == []
    assert await setup.balance() == STARTING


async def test_an_account_without_credits_is_refused_and_nothing_is_kept(setup: Setup) -> None:
    file_id = await setup.upload("recipes.txt", RECIPES.encode(), account_id=setup.other_account_id)
    with pytest.raises(ApiError) as refused:
        await setup.search([file_id], "brownies", key=setup.other_key)
    assert refused.value.status in (402, 403)
    with setup.db.engine.connect() as conn:
        assert conn.execute(select(schema.file_indexes)).all() == []


async def test_bad_arguments_are_refused_naming_them(setup: Setup) -> None:
    for query, k, param in [
        ("", 5, "query"),
        ("  ", 5, "query"),
        ("q", 0, "max_num_results"),
        ("q", 51, "max_num_results"),
    ]:
        with pytest.raises(ApiError) as refused:
            await setup.search(["file-x"], query, k=k)
        assert (refused.value.status, refused.value.param) == (400, param)
