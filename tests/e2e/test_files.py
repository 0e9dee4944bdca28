"""The Files API end to end, driven by the official SDK as the service's samples drive it
(`client.files.create(file=..., purpose="assistants")`); on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.conftest import Harness, running_harness

RECIPES = b"1. Sun-dried tomato pasta\n2. Chickpea salad\n3. Banana cookies\n"


async def test_upload_list_read_and_delete_through_the_sdk(harness: Harness) -> None:
    client = harness.client()
    created = await client.files.create(file=("recipes.txt", RECIPES, "text/plain"), purpose="assistants")
    assert created.id.startswith("file-") and created.object == "file"
    assert (created.filename, created.bytes, created.purpose) == ("recipes.txt", len(RECIPES), "assistants")
    assert created.expires_at is None

    assert (await client.files.retrieve(created.id)).model_dump() == created.model_dump()
    assert await (await client.files.content(created.id)).aread() == RECIPES
    batch_input = await client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch")
    # Batch inputs expire after 30 days unless told otherwise, as OpenAI's do.
    assert batch_input.expires_at == batch_input.created_at + 30 * 86400

    listed = await client.files.list()
    assert [f.id for f in listed.data] == [batch_input.id, created.id]
    assert [f.id for f in (await client.files.list(purpose="batch")).data] == [batch_input.id]
    first_page = await client.files.list(limit=1, order="asc")
    assert [f.id for f in first_page.data] == [created.id] and first_page.has_more
    assert [f.id async for f in client.files.list(limit=1, order="asc")] == [created.id, batch_input.id]

    deleted = await client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    for call in (client.files.retrieve, client.files.delete, client.files.content):
        with pytest.raises(openai.NotFoundError):
            await call(created.id)


async def test_the_routes_answer_without_v1_as_the_service_prints_them(harness: Harness) -> None:
    root = openai.AsyncOpenAI(base_url=harness.root_url, api_key=harness.key, max_retries=0)
    created = await root.files.create(
        file=("a.txt", b"a"),
        purpose="user_data",
        extra_body={"expires_after": {"anchor": "created_at", "seconds": 3600}},
    )
    assert created.expires_at == created.created_at + 3600
    # GET /files/{id} shares its path with the files the gateway makes (audio URLs): both work.
    assert (await root.files.retrieve(created.id)).id == created.id
    assert [f.id for f in (await root.files.list()).data] == [created.id]
    assert (await root.files.delete(created.id)).deleted


async def test_another_account_cannot_see_a_file(harness: Harness) -> None:
    created = await harness.client().files.create(file=("mine.txt", b"mine"), purpose="assistants")
    harness.db.create_account("others", low_balance_threshold=0, origin="test")
    other_key, _ = harness.db.create_key("others", admin=False, origin="test")
    await harness.gateway.sync.poll()
    other = harness.client(other_key)
    for call in (other.files.retrieve, other.files.delete, other.files.content):
        with pytest.raises(openai.NotFoundError):
            await call(created.id)
    assert (await other.files.list()).data == []
    assert (await harness.client().files.retrieve(created.id)).id == created.id


async def post_form(harness: Harness, fields: list[tuple[str, str]]) -> tuple[int, dict]:
    form = aiohttp.FormData()
    for name, value in fields:
        if name == "file":
            form.add_field("file", value.encode(), filename="f.txt", content_type="text/plain")
        else:
            form.add_field(name, value)
    headers = {"Authorization": f"Bearer {harness.key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(harness.base_url + "/files", data=form) as response,
    ):
        return response.status, orjson.loads(await response.read())


FILE = ("file", "x")
BATCH = ("purpose", "batch")


def expires(anchor: str, seconds: str) -> list[tuple[str, str]]:
    return [("expires_after[anchor]", anchor), ("expires_after[seconds]", seconds)]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ([("purpose", "assistants")], "file"),
        ([FILE], "purpose"),
        ([FILE, ("purpose", "batch_output")], "purpose"),
        ([FILE, ("file", "y"), BATCH], "file"),
        ([FILE, BATCH, *expires("now", "3600")], "expires_after.anchor"),
        ([FILE, BATCH, *expires("created_at", "60")], "expires_after.seconds"),
        ([FILE, BATCH, *expires("created_at", "soon")], "expires_after.seconds"),
    ],
)
async def test_bad_uploads_are_refused_naming_the_field(
    harness: Harness, fields: list[tuple[str, str]], param: str
) -> None:
    status, body = await post_form(harness, fields)
    assert status == 400 and body["message"].startswith("Body validation error"), body
    assert param in body["message"], body
    assert (await harness.client().files.list()).data == []  # nothing half-written


async def test_a_file_over_the_limit_is_413_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIGATE_STORAGE_MAX_UPLOAD_MB", "0.001")  # 1048 bytes
    async with running_harness(tmp_path, monkeypatch) as harness:
        client = harness.client()
        with pytest.raises(openai.APIStatusError) as refused:
            await client.files.create(file=("big.txt", b"x" * 2000), purpose="assistants")
        assert refused.value.status_code == 413
        assert (await client.files.list()).data == []
        small = await client.files.create(file=("small.txt", b"x" * 1000), purpose="assistants")
        assert small.bytes == 1000


async def test_query_parameters_are_checked(harness: Harness) -> None:
    client = harness.client()
    for query in ({"limit": 0}, {"limit": "x"}, {"order": "sideways"}):
        with pytest.raises(openai.BadRequestError):
            await client.files.list(extra_query=query)
