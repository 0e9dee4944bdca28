"""What a chat model that searches cites becomes the links: OpenAI's url_citation annotations, or
the `citations` list other providers (Perplexity) add."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from omnigate.providers.registry import build_provider
from omnigate.search.chat_model import ChatModelSearch
from omnigate.settings import ProviderSettings, RoutingSettings


@contextlib.asynccontextmanager
async def _upstream(completion: dict, bodies: list[dict]) -> AsyncIterator[str]:
    """An OpenAI-compatible upstream (Perplexity, say) that answers one fixed completion."""

    async def answer(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(completion)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def test_annotations_and_citations_become_links_once_each() -> None:
    message = {
        "role": "assistant",
        "content": "Meganeura was huge [1].",
        "annotations": [
            {"type": "url_citation", "url_citation": {"url": "https://a.example/", "title": "A"}},
            {"type": "url_citation", "url_citation": {"url": "https://a.example/", "title": "A"}},
        ],
    }
    completion = {
        "choices": [{"index": 0, "message": message}],
        "citations": ["https://b.example/", "https://c.example/"],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }
    bodies: list[dict] = []
    messages = [{"role": "user", "content": "giant dragonflies"}]
    async with _upstream(completion, bodies) as base_url:
        spec = ProviderSettings(name="web", kind="openai", base_url=base_url, api_key="sk-fake")
        provider = build_provider(spec, RoutingSettings(), "sk-fake")
        await provider.start()
        try:
            search = ChatModelSearch(provider, "sonar", max_results=2)
            found = await search.search("giant dragonflies", messages, account_id=7)
        finally:
            await provider.close()
    assert found.answer == "Meganeura was huge [1]."
    assert found.results.links == ["https://a.example/", "https://b.example/"]  # max_results = 2
    assert found.usage == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert bodies == [{"model": "sonar", "messages": messages}]
