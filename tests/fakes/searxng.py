"""A local fake of a SearXNG instance's JSON API, for the AI search's end-to-end tests.

It answers ``GET /search?q=<query>&format=json[&categories=images|videos]`` in SearXNG's JSON
shape: ``{query, number_of_results, results: [{url, title, content, engine, engines, positions,
score, category, template, parsed_url, img_src, thumbnail_src, thumbnail, ...}], answers,
corrections, infoboxes: [{infobox, id, content, img_src, urls, attributes, engine}], suggestions,
unresponsive_engines}``. Like SearXNG, it answers 403 unless ``format=json`` is asked for (an
instance whose settings.yml leaves json out of search.formats does the same).

Behaviour tests may rely on: ``pages[query][category]`` (category ``"general"``, ``"images"`` or
``"videos"``) is a list of results (dicts as SearXNG sends them), ``infoboxes[query]`` the
infoboxes and ``answers[query]`` the direct answers (strings as older SearXNG sends them, or
objects: ``{answer, url, template: "answer/legacy.html"}``, and the weather answer
``{template: "answer/weather.html", current, forecasts, service}`` whose items are
``{location: {name, ...}, temperature: {val, unit}, condition, datetime: {datetime},
humidity: {val}, wind_speed: {val, unit}, ...}``); a query with none answers empty lists.
``fail_next`` pops one HTTP status per request. ``requests`` records each request's query
parameters.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web


def result(url: str, title: str, content: str = "", *, category: str = "general", **extra: Any) -> dict:
    """One result as SearXNG's JSON carries it (the fields its result templates fill)."""
    parts = urlsplit(url)
    template = {"images": "images.html", "videos": "videos.html"}.get(category, "default.html")
    return {
        "url": url,
        "title": title,
        "content": content,
        "engine": "duckduckgo",
        "engines": ["duckduckgo"],
        "positions": [1],
        "score": 1.0,
        "category": category,
        "template": template,
        "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
        "thumbnail": "",
        "img_src": "",
        "priority": "",
        "publishedDate": None,
        **extra,
    }


class FakeSearXNG:
    def __init__(self) -> None:
        self.pages: dict[str, dict[str, list[dict]]] = {}
        self.infoboxes: dict[str, list[dict]] = {}
        self.answers: dict[str, list[str | dict]] = {}
        self.fail_next: list[int] = []
        self.requests: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/search", self._search)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeSearXNG not started")
        return f"http://127.0.0.1:{self._port}"

    async def _search(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.requests.append(params)
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="Internal Server Error")
        if params.get("format") != "json":
            return web.Response(status=403, text="Forbidden")
        query = params.get("q", "")
        category = params.get("categories", "general")
        results = self.pages.get(query, {}).get(category, [])
        general = category == "general"
        infoboxes = self.infoboxes.get(query, []) if general else []
        answers = self.answers.get(query, []) if general else []
        return web.json_response(
            {
                "query": query,
                "number_of_results": len(results),
                "results": results,
                "answers": answers,
                "corrections": [],
                "infoboxes": infoboxes,
                "suggestions": [],
                "unresponsive_engines": [],
            }
        )
