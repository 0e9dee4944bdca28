"""The AI search model end to end: bagoodex/bagoodex-search-v1 through POST /v1/chat/completions
(the official SDK) against a fake SearXNG, then the follow-up routes GET /v1/bagoodex/* reading
what that search found; the offline index over the operator's documents; a chat model that
searches; bad input."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest

from omnigate.settings import load_settings
from omnigate.store.db import Database
from tests.e2e.conftest import STACKS, STARTING_CREDITS, Stack, stack
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.searxng import FakeSearXNG, result
from tests.server import funded_account, serve

MODEL = "bagoodex/bagoodex-search-v1"
FOLLOW_UPS = ("links", "images", "videos", "weather", "local-map", "knowledge")
EMPTY = {"links": [], "images": [], "videos": [], "weather": {}, "local-map": {}, "knowledge": {}}
QUERY = "giant dragonflies"
# 1 and 2 USD per million tokens: 2 and 4 credits a token.
PRICES = "input_per_million = 1.0\noutput_per_million = 2.0"


@dataclass
class Search:
    base_url: str
    root_url: str
    key: str
    other_key: str  # a key of another account
    account_id: int
    db: Database
    searxng: FakeSearXNG

    def client(self, key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=key or self.key, max_retries=0)

    async def follow_up(
        self, kind: str, followup_id: str | None, *, key: str | None = None, prefix: str = "/v1"
    ) -> tuple[int, object]:
        params = {} if followup_id is None else {"followup_id": followup_id}
        headers = {"Authorization": f"Bearer {key or self.key}"}
        async with aiohttp.ClientSession() as session:
            url = f"{self.root_url}{prefix}/bagoodex/{kind}"
            async with session.get(url, params=params, headers=headers) as response:
                return response.status, await response.json()


@asynccontextmanager
async def running(
    tmp_path: Path, services: Stack, search_table: str, extra: str = "", *, priced: bool = True
) -> AsyncIterator[Search]:
    searxng = FakeSearXNG()
    await searxng.start()
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

            [engines]
            builtin = false

            [billing]
            flush_interval_s = 0.05
            poll_interval_s = 0.1

            [routing]
            max_attempts = 2
            backoff_base_s = 0.01

            [search]
            """
        )
        + search_table.replace("SEARXNG", searxng.base_url)
        + (f'\n[[prices]]\nmodel = "{MODEL}"\n{PRICES}\n' if priced else "")
        + extra
    )
    settings = load_settings(config)
    db, account, key = funded_account(settings.database_url, STARTING_CREDITS)
    db.create_account("other", low_balance_threshold=0, origin="test")
    other_key, _ = db.create_key("other", admin=False, origin="test")
    try:
        async with serve(settings) as (gateway, root):
            yield Search(root + "/v1", root, key, other_key, account.id, db, searxng)
            await gateway.book.drain()
            await gateway.sync.flush()
    finally:
        db.close()
        await searxng.stop()


@pytest.fixture(params=STACKS)
async def search(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Search]:
    with stack(request.param) as services:
        async with running(tmp_path, services, 'searxng_url = "SEARXNG"\n') as found:
            yield found


def dragonflies(searxng: FakeSearXNG) -> None:
    searxng.pages[QUERY] = {
        "general": [
            result(
                "https://en.wikipedia.org/wiki/Meganeura",
                "Meganeura - Wikipedia",
                "Meganeura is a genus of extinct insects, related to dragonflies.",
            ),
            result(
                "https://www.nhm.ac.uk/giant-dragonflies",
                "Giant dragonflies | Natural History Museum",
                "Griffenflies had wingspans of up to 70 centimetres.",
            ),
            result(
                "https://www.openstreetmap.org/relation/111968",
                "Commentry, Allier, France",
                "",
                engine="openstreetmap",
                template="map.html",
                latitude=46.2886,
                longitude=2.7406,
                img_src="https://example.org/commentry.png",
            ),
        ],
        "images": [
            result(
                "https://theconversation.com/dragonflies-1",
                "Paleozoic era's giant dragonflies ...",
                category="images",
                img_src="https://images.theconversation.com/files/234118/original.jpg",
                thumbnail_src="https://images.theconversation.com/files/234118/thumb.jpg",
                source="The Conversation",
            ),
            result(
                "https://www.eartharchives.org/articles/meganeuropsis",
                "huge dragonfly ...",
                category="images",
                img_src="https://s3.amazonaws.com/scifindr/meganeuropsis.jpg",
            ),
        ],
        "videos": [
            result(
                "https://www.youtube.com/watch?v=iv8rSLsi1xo",
                "Giant dragonflies of the Carboniferous",
                category="videos",
                thumbnail="https://i.ytimg.com/vi/iv8rSLsi1xo/hqdefault.jpg",
            )
        ],
    }
    searxng.infoboxes[QUERY] = [
        {
            "infobox": "Meganeura",
            "id": "https://en.wikipedia.org/wiki/Meganeura",
            "content": "Meganeura is a genus of extinct insects from the Carboniferous.",
            "img_src": None,
            "urls": [{"title": "Wikipedia", "url": "https://en.wikipedia.org/wiki/Meganeura"}],
            "attributes": [{"label": "Instance of", "value": "fossil taxon"}],
            "engine": "wikidata",
        }
    ]


EXPECTED = {
    "links": [
        "https://en.wikipedia.org/wiki/Meganeura",
        "https://www.nhm.ac.uk/giant-dragonflies",
        "https://www.openstreetmap.org/relation/111968",
    ],
    "images": [
        {
            "source": "https://theconversation.com/dragonflies-1",
            "original": "https://images.theconversation.com/files/234118/original.jpg",
            "title": "Paleozoic era's giant dragonflies ...",
            "source_name": "The Conversation",
        },
        {
            "source": "https://www.eartharchives.org/articles/meganeuropsis",
            "original": "https://s3.amazonaws.com/scifindr/meganeuropsis.jpg",
            "title": "huge dragonfly ...",
            "source_name": "www.eartharchives.org",
        },
    ],
    "videos": [
        {
            "link": "https://www.youtube.com/watch?v=iv8rSLsi1xo",
            "thumbnail": "https://i.ytimg.com/vi/iv8rSLsi1xo/hqdefault.jpg",
            "title": "Giant dragonflies of the Carboniferous",
        }
    ],
    "weather": {},
    "local-map": {
        "link": "https://www.openstreetmap.org/relation/111968",
        "image": "https://example.org/commentry.png",
        "gps_coordinates": {"latitude": 46.2886, "longitude": 2.7406},
    },
    "knowledge": {
        "title": "Meganeura",
        "type": "fossil taxon",
        "description": "Meganeura is a genus of extinct insects from the Carboniferous.",
        "born": None,
        "died": None,
    },
}


async def test_search_answers_and_each_follow_up_returns_what_searxng_found(search: Search) -> None:
    dragonflies(search.searxng)
    reply = await search.client().chat.completions.create(
        # The service's `ip` (results by location) is accepted.
        model=MODEL,
        messages=[{"role": "user", "content": QUERY}],
        extra_body={"ip": "192.44.242.19"},
    )
    text = reply.choices[0].message.content or ""
    assert "Meganeura is a genus of extinct insects, related to dragonflies. [1]" in text
    assert "[2] Giant dragonflies | Natural History Museum: https://www.nhm.ac.uk/giant-dragonflies" in text
    assert reply.model == MODEL
    # SearXNG was asked for its general results, its images and its videos, as JSON.
    asked = sorted((r["q"], r["format"], r.get("categories", "")) for r in search.searxng.requests)
    assert asked == [(QUERY, "json", ""), (QUERY, "json", "images"), (QUERY, "json", "videos")]
    for kind in FOLLOW_UPS:
        for prefix in ("/v1", ""):
            assert await search.follow_up(kind, reply.id, prefix=prefix) == (200, EXPECTED[kind])
    # Priced like any chat call: the usage at the [[prices]] rates.
    assert reply.usage is not None
    charged = reply.usage.prompt_tokens * 2 + reply.usage.completion_tokens * 4
    assert reply.model_extra["meta"]["usage"]["tokens_used"] == charged > 0


async def test_a_conversation_searches_its_last_user_message(search: Search) -> None:
    dragonflies(search.searxng)
    reply = await search.client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "Ask me anything."},
            {"role": "user", "content": QUERY},
        ],
    )
    assert {r["q"] for r in search.searxng.requests} == {QUERY}
    assert await search.follow_up("links", reply.id) == (200, EXPECTED["links"])


async def test_a_streamed_search_tells_the_same_answer_and_its_id_follows_up(search: Search) -> None:
    dragonflies(search.searxng)
    client = search.client()
    whole = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUERY}])
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUERY}], stream=True
    )
    pieces, ids, usage = [], set(), None
    async for chunk in stream:
        ids.add(chunk.id)
        usage = chunk.usage or usage
        pieces += [choice.delta.content or "" for choice in chunk.choices]
    assert "".join(pieces) == whole.choices[0].message.content
    assert len(ids) == 1 and usage is not None and usage.completion_tokens > 0
    assert await search.follow_up("videos", ids.pop()) == (200, EXPECTED["videos"])


async def test_nothing_found_answers_empty_lists_and_objects(search: Search) -> None:
    reply = await search.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "zzqx nothing at all"}]
    )
    assert reply.choices[0].message.content == 'No results were found for "zzqx nothing at all".'
    for kind in FOLLOW_UPS:
        assert await search.follow_up(kind, reply.id) == (200, EMPTY[kind])
    blank = await search.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": " "}]
    )
    assert blank.choices[0].message.content == 'No results were found for " ".'
    assert await search.follow_up("links", blank.id) == (200, [])
    assert [r["q"] for r in search.searxng.requests] == [
        "zzqx nothing at all"
    ] * 3  # the blank one asked nothing


async def test_follow_ups_belong_to_the_account_and_need_a_known_id(search: Search) -> None:
    dragonflies(search.searxng)
    reply = await search.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUERY}]
    )
    status, body = await search.follow_up("links", reply.id, key=search.other_key)
    assert status == 404 and body["error"]["param"] == "followup_id"  # type: ignore[index]
    unknown = await search.follow_up("images", "00000000-0000-0000-0000-000000000000")
    assert unknown[0] == 404
    status, body = await search.follow_up("knowledge", None)
    assert status == 400
    assert body["statusCode"] == 400 and body["path"] == "/v1/bagoodex/knowledge"  # type: ignore[index]
    assert body["error"]["param"] == "followup_id" and body["requestId"]  # type: ignore[index]
    status, body = await search.follow_up("links", "x" * 500)
    assert status == 400 and body["error"]["param"] == "followup_id"  # type: ignore[index]
    status, _ = await search.follow_up("links", reply.id, key="og-not-a-key")
    assert status == 401


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "system", "content": "be brief"}, {"role": "user", "content": QUERY}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "text", "text": QUERY}]}], "messages[0].content"),
        ([], "messages"),
    ],
)
async def test_bad_input_is_400_naming_the_field(search: Search, messages: list, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await search.client().chat.completions.create(model=MODEL, messages=messages)
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert search.searxng.requests == []


async def test_a_failing_searxng_is_a_bad_gateway_and_nothing_is_charged(search: Search) -> None:
    search.searxng.fail_next = [500] * 6
    with pytest.raises(openai.APIStatusError) as caught:
        await search.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": QUERY}]
        )
    assert caught.value.status_code == 502
    assert "SearXNG" in caught.value.message
    assert search.db.account(search.account_id).balance == STARTING_CREDITS


async def test_offline_the_operators_documents_are_searched(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "kettle.md").write_text(
        "# Descaling the kettle\n\nFill the kettle with vinegar and water, boil, and rinse twice.\n"
    )
    (docs / "holidays.txt").write_text("Holidays\n\nThe office closes on public holidays.\n")
    (docs / "notes.pdf").write_text("kettle kettle kettle")  # not a .txt or .md file: not indexed
    table = f'local_documents = "{docs}"\n'
    # With no price, searching the operator's own documents is free.
    async with running(tmp_path, Stack("sqlite", ""), table, priced=False) as search:
        reply = await search.client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "how do I descale the kettle?"}]
        )
        text = reply.choices[0].message.content or ""
        assert "Fill the kettle with vinegar and water, boil, and rinse twice. [1]" in text
        assert "[1] Descaling the kettle: guides/kettle.md" in text
        # Ranked by BM25: the holidays file shares only "the" with the question.
        assert await search.follow_up("links", reply.id) == (200, ["guides/kettle.md", "holidays.txt"])
        assert await search.follow_up("images", reply.id) == (200, [])
        assert search.searxng.requests == []
        assert reply.model_extra["meta"]["usage"]["tokens_used"] == 0


async def test_a_chat_model_that_searches_answers_through_its_route(tmp_path: Path) -> None:
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    table = 'chat_provider = "web"\nchat_model = "gpt-4o-search-preview"\n'
    provider = f'\n[providers.web]\nkind = "openai"\nbase_url = "{upstream.base_url}"\napi_key = "sk-fake"\n'
    try:
        async with running(tmp_path, Stack("sqlite", ""), table, provider) as search:
            reply = await search.client().chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUERY}]
            )
            assert reply.choices[0].message.content == f"echo: {QUERY}"
            # The chat model's own usage is billed: its prompt is the query's two words.
            assert reply.usage is not None and reply.usage.prompt_tokens == 2
            assert (
                reply.model_extra["meta"]["usage"]["tokens_used"] == 2 * 2 + reply.usage.completion_tokens * 4
            )
            assert upstream.requests[-1]["model"] == "gpt-4o-search-preview"
            assert upstream.requests[-1]["messages"] == [{"role": "user", "content": QUERY}]
            assert await search.follow_up("links", reply.id) == (200, [])
    finally:
        await upstream.stop()


def _hour(day: str, hour: int, celsius: float, condition: str) -> dict:
    """One item of SearXNG's weather answer, as its JSON carries it."""
    return {
        "location": {"name": "Delhi", "latitude": 28.65, "longitude": 77.23, "country_code": "IN"},
        "temperature": {"val": celsius, "unit": "°C"},
        "condition": condition,
        "datetime": {"datetime": f"{day}T{hour:02d}:00:00+05:30"},
        "humidity": {"val": 61},
        "wind_speed": {"val": 3.2, "unit": "m/s"},
        "wind_from": "NW",
    }


async def test_weather_and_direct_answers_from_searxng(search: Search) -> None:
    query = "weather delhi"
    search.searxng.answers[query] = [
        "Delhi is the capital of India.",
        {
            "template": "answer/weather.html",
            "service": "Open-meteo",
            "current": _hour("2026-12-04", 9, 24.6, "partly cloudy"),
            "forecasts": [
                _hour("2026-12-04", 6, 14.2, "clear sky"),
                _hour("2026-12-04", 12, 25.1, "partly cloudy"),
                _hour("2026-12-05", 12, 23.0, "light rain"),
                _hour("2026-12-05", 18, 19.4, "cloudy"),
            ],
        },
    ]
    reply = await search.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": query}]
    )
    assert reply.choices[0].message.content == "Delhi is the capital of India."
    status, found = await search.follow_up("weather", reply.id)
    assert status == 200
    assert found == {
        "type": "weather_result",
        "temperature": "25",
        "unit": "Celsius",
        "precipitation": "",
        "humidity": "61%",
        "wind": "3 m/s",
        "location": "Delhi",
        "date": "Friday",
        "weather": "Partly cloudy",
        "thumbnail": "",
        "forecast": [
            {
                "day": "Friday",
                "temperature": {"high": "25", "low": "14"},
                "thumbnail": "",
                "weather": "Partly cloudy",
                "humidity": "61%",
                "precipitation": "",
                "wind": "3 m/s",
            },
            {
                "day": "Saturday",
                "temperature": {"high": "23", "low": "19"},
                "thumbnail": "",
                "weather": "Light rain",
                "humidity": "61%",
                "precipitation": "",
                "wind": "3 m/s",
            },
        ],
    }


async def test_a_searxng_without_its_json_format_is_named_in_the_error(tmp_path: Path) -> None:
    async with running(tmp_path, Stack("sqlite", ""), 'searxng_url = "SEARXNG"\n') as search:
        search.searxng.fail_next = [403]
        with pytest.raises(openai.APIStatusError) as caught:
            await search.client().chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUERY}]
            )
        assert caught.value.status_code == 502
        assert "search.formats" in caught.value.message


async def test_a_routed_chat_model_may_write_the_answer_from_the_results(tmp_path: Path) -> None:
    upstream = FakeOpenAIUpstream()
    await upstream.start()
    table = 'searxng_url = "SEARXNG"\nsummarize_provider = "writer"\nsummarize_model = "gpt-4o-mini"\n'
    provider = (
        f'\n[providers.writer]\nkind = "openai"\nbase_url = "{upstream.base_url}"\napi_key = "sk-fake"\n'
    )
    try:
        async with running(tmp_path, Stack("sqlite", ""), table, provider) as search:
            dragonflies(search.searxng)
            reply = await search.client().chat.completions.create(
                model=MODEL,
                messages=[
                    {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "Ask me anything."},
                    {"role": "user", "content": QUERY},
                ],
            )
            sent = upstream.requests[-1]
            assert sent["model"] == "gpt-4o-mini"
            assert sent["messages"][:2] == [
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "Ask me anything."},
            ]
            prompt = sent["messages"][2]["content"]
            assert (
                "[2] Giant dragonflies | Natural History Museum (https://www.nhm.ac.uk/giant-dragonflies): "
                in prompt
            )
            assert prompt.endswith(f"Question: {QUERY}")
            # The fake echoes what it was asked: the answer is the model's.
            assert reply.choices[0].message.content == f"echo: {prompt}"
            assert reply.usage is not None
            charged = reply.usage.prompt_tokens * 2 + reply.usage.completion_tokens * 4
            assert reply.model_extra["meta"]["usage"]["tokens_used"] == charged
            assert await search.follow_up("links", reply.id) == (200, EXPECTED["links"])
    finally:
        await upstream.stop()
