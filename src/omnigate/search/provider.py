"""The search model as a chat backend: the router sends bagoodex/bagoodex-search-v1 here like any
deployment (the pipeline prices, holds and settles it), and this backend asks the configured
search backend, answers with text composed from what it found (or the answer of a chat model
that searched), and keeps the results under the completion's id for the follow-up routes."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from omnigate.search.chat_model import ChatModelSearch
from omnigate.search.local_index import LocalIndex
from omnigate.search.results import Found, SearchBackend, SearchResults
from omnigate.search.searxng import SearXNGSearch
from omnigate.search.store import SearchStore
from omnigate.search.summarize import Summarizer
from omnigate.settings import SEARCH_PROVIDER, SearchSettings
from omnigate.store.search_results import SearchResultStore

# The catalogue's id of the search model, which [search] routes here.
SEARCH_MODEL = "bagoodex/bagoodex-search-v1"
# Snippets the composed answer cites.
CITED = 3
PIECE_CHARS = 64  # a streamed answer goes out in pieces of this size


class SearchProvider:
    local = True  # no per-call cost the gateway cannot see; with a chat model, see __init__
    serves_chat = True
    speaks_responses = False
    embeds = False
    markup = None
    reserve_credits = 0
    media_families: frozenset[str] = frozenset()
    task_families: frozenset[str] = frozenset()

    def __init__(
        self, name: str, backend: SearchBackend, store: SearchStore, summarizer: Summarizer | None = None
    ) -> None:
        self.name = name
        self.backend = backend
        self.store = store
        self.summarizer = summarizer
        # A routed chat model costs the operator per call: priced like any upstream model.
        self.local = not isinstance(backend, ChatModelSearch) and summarizer is None

    async def start(self) -> None:
        await self.backend.start()

    async def close(self) -> None:
        await self.backend.close()

    async def complete(self, body: dict, *, account_id: int) -> dict:
        messages = conversation(body)
        query = last_user_text(messages)
        # A blank question finds nothing: no engine is asked (SearXNG refuses an empty q).
        if query.strip():
            found = await self.backend.search(query, messages, account_id=account_id)
        else:
            found = Found(SearchResults())
        answer, usage = found.answer, found.usage
        if answer is None and self.summarizer is not None and found.results.snippets:
            answer, usage = await self.summarizer.summarize(
                query, messages, found.results, account_id=account_id
            )
        if answer is None:
            answer = compose(query, found.results)
        usage = usage or counted_usage(messages, answer)
        completion_id = str(uuid.uuid4())
        await self.store.save(completion_id, account_id, str(body.get("model") or ""), query, found.results)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    async def open_stream(self, body: dict, *, account_id: int) -> AnswerStream:
        # The search is done before the first byte, so a failing backend can still be retried.
        return AnswerStream(await self.complete(body, account_id=account_id))


class AnswerStream:
    """A finished answer told as chat.completion chunks, ending with the usage chunk."""

    def __init__(self, completion: dict) -> None:
        self.completion = completion

    def __aiter__(self) -> AsyncIterator[dict | list[dict]]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[dict | list[dict]]:
        text = self.completion["choices"][0]["message"]["content"]
        pieces = [text[i : i + PIECE_CHARS] for i in range(0, len(text), PIECE_CHARS)] or [""]
        yield self._chunk({"role": "assistant", "content": ""})
        for piece in pieces:
            yield self._chunk({"content": piece})
        yield self._chunk({}, finish_reason="stop")
        yield {**self._chunk({}), "choices": [], "usage": self.completion["usage"]}

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.completion["id"],
            "object": "chat.completion.chunk",
            "created": self.completion["created"],
            "model": self.completion["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    async def aclose(self) -> None:
        return None


def conversation(body: dict) -> list[dict]:
    """The messages as {role, content} (the model's rules already allow only user and assistant
    roles with string content)."""
    return [
        {"role": str(m.get("role")), "content": m.get("content") if isinstance(m.get("content"), str) else ""}
        for m in body.get("messages") or ()
        if isinstance(m, dict)
    ]


def counted_usage(messages: list[dict], answer: str) -> dict[str, int]:
    """Tokens at four characters each: what the conversation asked and the answer said."""
    prompt = math.ceil(sum(len(m["content"]) for m in messages) / 4)
    completion = math.ceil(len(answer) / 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def last_user_text(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def compose(query: str, results: SearchResults) -> str:
    """A short extractive answer: the best snippets, each citing its source by number."""
    cited = [s for s in results.snippets if s.get("content") or s.get("title")][:CITED]
    if not cited:
        if results.answers:
            return "\n".join(results.answers)
        return f'No results were found for "{query}".'
    lines = [*results.answers, ""] if results.answers else []
    lines += [f'Top results for "{query}":', ""]
    for number, snippet in enumerate(cited, 1):
        text = snippet.get("content") or snippet.get("title") or ""
        lines.append(f"{text} [{number}]")
    lines += ["", "Sources:"]
    lines += [f"[{n}] {s.get('title') or s['url']}: {s['url']}" for n, s in enumerate(cited, 1)]
    return "\n".join(lines)


def build_search_provider(
    settings: SearchSettings, db: SearchResultStore, providers: dict[str, Any]
) -> SearchProvider | None:
    """The [search] backend, the first one configured of: SearXNG, a routed chat model that
    searches, the operator's documents. None when [search] names none."""
    backend: SearchBackend
    if settings.searxng_url:
        backend = SearXNGSearch(
            settings.searxng_url, max_results=settings.max_results, timeout_s=settings.timeout_s
        )
    elif settings.chat_provider:
        backend = ChatModelSearch(
            providers[settings.chat_provider], settings.chat_model, max_results=settings.max_results
        )
    elif settings.local_documents:
        backend = LocalIndex(settings.local_documents, max_results=settings.max_results)
    else:
        return None
    summarizer = None
    # A chat model that searches writes its own answer; the others' results may be summarized.
    if settings.summarize_provider and not isinstance(backend, ChatModelSearch):
        summarizer = Summarizer(providers[settings.summarize_provider], settings.summarize_model)
    return SearchProvider(SEARCH_PROVIDER, backend, SearchStore(db), summarizer)
