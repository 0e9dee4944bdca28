"""A chat model that searches the web itself (OpenAI's gpt-4o-search-preview, Perplexity's sonar,
any OpenAI-compatible one) as the search backend: the conversation is forwarded to it through a
configured provider, its answer is the answer, and the pages it cites are the links."""

from __future__ import annotations

from typing import Any

from omnigate.search.results import Found, SearchResults


class ChatModelSearch:
    def __init__(self, backend: Any, model: str, *, max_results: int) -> None:
        self.name = f"{backend.name}:{model}"
        self.backend = backend  # a ChatBackend (providers/base.py), started with the providers
        self.model = model
        self.max_results = max_results

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def search(self, query: str, messages: list[dict], *, account_id: int) -> Found:
        body = {"model": self.model, "messages": messages}
        completion = await self.backend.complete(body, account_id=account_id)
        message = ((completion.get("choices") or [{}])[0] or {}).get("message") or {}
        found = SearchResults()
        for link, title in _citations(completion, message):
            if link not in found.links and len(found.links) < self.max_results:
                found.links.append(link)
                found.snippets.append({"title": title, "url": link, "content": ""})
        usage = completion.get("usage")
        return Found(
            found, answer=message.get("content") or "", usage=usage if isinstance(usage, dict) else None
        )


def _citations(completion: dict, message: dict) -> list[tuple[str, str]]:
    """OpenAI's url_citation annotations, and the `citations` list some providers add instead."""
    cited = []
    for annotation in message.get("annotations") or ():
        citation = annotation.get("url_citation") if isinstance(annotation, dict) else None
        if isinstance(citation, dict) and isinstance(citation.get("url"), str):
            cited.append((citation["url"], str(citation.get("title") or "")))
    for url in completion.get("citations") or ():
        if isinstance(url, str):
            cited.append((url, ""))
    return cited
