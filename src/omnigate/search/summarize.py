"""An optional summary of what a search found, written by a routed chat model (`[search]
summarize_provider` and `summarize_model`) instead of the extractive answer: the model is given
the numbered sources and the question, and asked to cite the sources it uses."""

from __future__ import annotations

from typing import Any

from omnigate.search.results import SearchResults

INSTRUCTIONS = (
    "Answer the question from the numbered search results below. Cite the results you use as [n]. "
    "If they do not answer it, say so."
)


class Summarizer:
    def __init__(self, backend: Any, model: str) -> None:
        self.backend = backend  # a ChatBackend (providers/base.py), started with the providers
        self.model = model

    async def summarize(
        self, query: str, messages: list[dict], results: SearchResults, *, account_id: int
    ) -> tuple[str, dict | None]:
        """The answer, and the tokens it used as the model reported them (None: not reported)."""
        sources = "\n".join(
            f"[{n}] {s.get('title') or s['url']} ({s['url']}): {s.get('content') or ''}"
            for n, s in enumerate(results.snippets, 1)
        )
        prompt = f"{INSTRUCTIONS}\n\nSearch results:\n{sources}\n\nQuestion: {query}"
        # The earlier turns stay, so a follow-up question is read in its conversation.
        body = {"model": self.model, "messages": [*messages[:-1], {"role": "user", "content": prompt}]}
        completion = await self.backend.complete(body, account_id=account_id)
        message = ((completion.get("choices") or [{}])[0] or {}).get("message") or {}
        usage = completion.get("usage")
        return str(message.get("content") or ""), usage if isinstance(usage, dict) else None
