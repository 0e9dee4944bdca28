"""file_search: the chunks of a key's uploaded files nearest a query.

Only uploads of the key's account that still exist are searched: another account's file id, a
deleted file or an unknown id contributes nothing (an assistant may name a file deleted since).
Each file is indexed on its first search (indexing.py); the query is embedded with the same model
(charged like any embeddings request), and the chunks are ranked by cosine (vectors.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from omnigate.errors import bad_request
from omnigate.gateway import Gateway
from omnigate.knowledge.embed import embed_texts
from omnigate.knowledge.indexing import ensure_indexed
from omnigate.knowledge.vectors import pack, rank
from omnigate.store.rows import KeyRow

# The most chunks one search returns (OpenAI's max_num_results range is 1-50).
MAX_K = 50


@dataclass(frozen=True)
class Hit:
    file_id: str
    filename: str
    text: str  # the chunk, as cut from the file's text
    score: float  # (1 + cosine) / 2, in [0, 1]; higher is nearer


async def search_files(
    gw: Gateway, key: KeyRow, file_ids: list[str], query: str, *, k: int = 5, request_id: str
) -> list[Hit]:
    """The `k` chunks nearest `query` among these files, best first."""
    if not isinstance(query, str) or not query.strip():
        raise bad_request("file_search needs a query: a non-empty string.", param="query")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise bad_request(f"file_search returns 1 to {MAX_K} results; {k!r} asked.", param="max_num_results")
    uploads = []
    for file_id in dict.fromkeys(file_ids):  # each file once, in the order given
        if isinstance(file_id, str) and file_id and "\x00" not in file_id:
            upload = await asyncio.to_thread(gw.db.upload, file_id, key.account_id)
            if upload is not None:
                uploads.append(upload)
    for upload in uploads:
        await ensure_indexed(gw, key, upload, request_id=request_id)
    model = gw.settings.assistants.embedding_model
    chunks = await asyncio.to_thread(gw.db.indexed_chunks, [u.id for u in uploads], model)
    if not chunks:  # nothing to search in: the query is not embedded, nothing is charged
        return []
    [vector] = await embed_texts(gw, key, [query], request_id=request_id, note="file_search query")
    ranked = await asyncio.to_thread(rank, pack(vector), [c.vector for c in chunks], k)
    names = {u.id: u.filename for u in uploads}
    return [Hit(chunks[i].file_id, names[chunks[i].file_id], chunks[i].text, s) for i, s in ranked]
