"""The fake SearXNG speaks its JSON API as the real one does, refusals included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from tests.fakes.searxng import FakeSearXNG, result


@pytest_asyncio.fixture
async def searxng() -> AsyncIterator[FakeSearXNG]:
    fake = FakeSearXNG()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def _get(fake: FakeSearXNG, **params: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as session, session.get(f"{fake.base_url}/search", params=params) as r:
        return r.status, (await r.json() if r.status == 200 else await r.text())


async def test_answers_the_json_shape_per_category(searxng: FakeSearXNG) -> None:
    searxng.pages["q"] = {"general": [result("https://a.example/", "A", "about a")], "images": []}
    searxng.infoboxes["q"] = [{"infobox": "A", "content": "a thing", "attributes": []}]
    status, body = await _get(searxng, q="q", format="json")
    assert status == 200 and isinstance(body, dict)
    assert set(body) == {
        "query",
        "number_of_results",
        "results",
        "answers",
        "corrections",
        "infoboxes",
        "suggestions",
        "unresponsive_engines",
    }
    assert [r["url"] for r in body["results"]] == ["https://a.example/"]
    assert body["results"][0]["parsed_url"][1] == "a.example"
    assert body["infoboxes"][0]["infobox"] == "A"
    status, images = await _get(searxng, q="q", format="json", categories="images")
    assert status == 200 and images["results"] == [] and images["infoboxes"] == []  # type: ignore[index]


async def test_refuses_html_and_fails_on_demand(searxng: FakeSearXNG) -> None:
    assert (await _get(searxng, q="q"))[0] == 403
    searxng.fail_next = [503]
    assert (await _get(searxng, q="q", format="json"))[0] == 503
    assert (await _get(searxng, q="q", format="json"))[0] == 200
    assert [r.get("format") for r in searxng.requests] == [None, "json", "json"]
