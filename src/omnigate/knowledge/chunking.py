"""Cutting a file's text into overlapping chunks, as OpenAI's file_search does (800-token chunks,
400 tokens of overlap by default: [assistants] chunk_tokens, chunk_overlap_tokens), in tokens
counted without any model's tokenizer.

A token here is a run of at most 16 word characters, or one punctuation mark: close to what
subword tokenizers make of prose (a word is one token or a few), and the same for every embedding
model, local or upstream. Each chunk is the original text from its first token to its last, so
what a search returns reads as the file does.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w{1,16}|[^\w\s]")
CHUNK_TOKENS = 800
OVERLAP_TOKENS = 400
# The least chunk the plan makes for a model with a tiny context (it would otherwise be empty).
MIN_CHUNK_TOKENS = 16


def chunk_plan(
    context_length: int | None, *, chunk_tokens: int = CHUNK_TOKENS, overlap_tokens: int = OVERLAP_TOKENS
) -> tuple[int, int]:
    """(chunk size, overlap) in tokens for an embedding model that reads `context_length` tokens.

    The configured size (OpenAI's 800 by default) where the model reads that much; otherwise three
    quarters of its context (a subword tokenizer makes a few more tokens than counted here), the
    overlap shrinking in proportion. all-MiniLM-L6-v2 reads 256 tokens: 192-token chunks, 96
    overlapping. A chunk longer than its model's context would be cut by the model, and its tail
    never found.
    """
    size = chunk_tokens
    if context_length:
        size = max(MIN_CHUNK_TOKENS, min(chunk_tokens, context_length * 3 // 4))
    overlap = min(overlap_tokens, size * overlap_tokens // chunk_tokens)
    return size, overlap


def count_tokens(text: str) -> int:
    return sum(1 for _ in _TOKEN.finditer(text))


def chunk_text(text: str, *, size: int = CHUNK_TOKENS, overlap: int = OVERLAP_TOKENS) -> list[str]:
    """Chunks of `size` tokens, each starting `size - overlap` tokens after the one before; the
    last one ends with the text. A text without tokens (empty, or only spaces) has none."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("a chunk needs at least one token, and an overlap smaller than itself")
    spans = [m.span() for m in _TOKEN.finditer(text)]
    chunks: list[str] = []
    start = 0
    while spans:
        end = min(start + size, len(spans))
        chunks.append(text[spans[start][0] : spans[end - 1][1]])
        if end == len(spans):
            break
        start += size - overlap
    return chunks
