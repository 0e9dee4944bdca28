"""Offline search over documents the operator provides: every .txt and .md file under a folder,
indexed once at start-up and ranked with BM25 in the process (no service, no model)."""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from omnigate.search.results import Found, SearchResults

_WORD = re.compile(r"\w+")
# BM25's usual constants: term-frequency saturation and length normalisation.
K1, B = 1.5, 0.75
SNIPPET_CHARS = 300


@dataclass(frozen=True, slots=True)
class Document:
    path: str  # relative to the folder: what the answer cites and the links route lists
    title: str
    text: str
    terms: Counter[str]
    length: int


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _title(path: Path, text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped:
            return stripped
    return path.stem


class LocalIndex:
    def __init__(self, folder: str | Path, *, max_results: int) -> None:
        self.name = "local-documents"
        self.folder = Path(folder).expanduser()
        self.max_results = max_results
        self.documents: list[Document] = []
        self._frequency: Counter[str] = Counter()  # documents each term appears in

    async def start(self) -> None:
        # Reading a large folder must not stall the event loop of a server already serving.
        await asyncio.to_thread(self.load)

    async def close(self) -> None:
        return None

    def load(self) -> None:
        documents = []
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.lower() not in (".txt", ".md") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            terms = Counter(words(text))
            relative = path.relative_to(self.folder).as_posix()
            documents.append(Document(relative, _title(path, text), text, terms, sum(terms.values())))
        self.documents = documents
        self._frequency = Counter(term for d in documents for term in d.terms)

    def rank(self, query: str) -> list[tuple[float, Document]]:
        """Documents sharing a term with the query, best first (ties keep file order)."""
        terms = set(words(query))
        count = len(self.documents)
        if not terms or not count:
            return []
        average = sum(d.length for d in self.documents) / count or 1.0
        scored = []
        for document in self.documents:
            score = 0.0
            for term in terms:
                tf = document.terms.get(term, 0)
                if not tf:
                    continue
                df = self._frequency[term]
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * document.length / average))
            if score > 0:
                scored.append((score, document))
        scored.sort(key=lambda pair: -pair[0])
        return scored[: self.max_results]

    async def search(self, query: str, messages: list[dict], *, account_id: int) -> Found:
        found = SearchResults()
        terms = set(words(query))
        for _, document in self.rank(query):
            found.links.append(document.path)
            found.snippets.append(
                {"title": document.title, "url": document.path, "content": _snippet(document.text, terms)}
            )
        return Found(found)


def _snippet(text: str, terms: set[str]) -> str:
    """The first paragraph that names a query term (else the first), cut to a readable length."""
    paragraphs = [
        p.strip() for p in re.split(r"\n\s*\n", text) if p.strip() and not p.strip().startswith("#")
    ]
    if not paragraphs:
        return ""
    best = next((p for p in paragraphs if terms & set(words(p))), paragraphs[0])
    best = " ".join(best.split())
    return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1].rstrip() + "…"
