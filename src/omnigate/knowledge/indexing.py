"""Indexing one upload for file_search, once, by the first search that needs it.

The search claims the file's index row (store/knowledge.py). Holding it, it reads the file,
extracts its text, cuts it into chunks, embeds them in batches (each batch charged under its own
ledger entry id, embed.py), then stores every chunk and marks the index ready in one
transaction. A search that finds the file being indexed waits for it; one whose holder died
takes it over when the lease lapses. A holder that fails (an unreadable file, an upstream
error, no credits) gives its claim back and raises, so the next search tries afresh.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Protocol

from omnigate.errors import bad_request
from omnigate.gateway import Gateway
from omnigate.knowledge.chunking import chunk_plan, chunk_text
from omnigate.knowledge.embed import embed_texts, index_entry_id
from omnigate.knowledge.extract import UnreadableFile, extract_text
from omnigate.knowledge.vectors import pack
from omnigate.store.knowledge import Claim
from omnigate.store.rows import KeyRow

# How long a claim lives without news from its holder, which renews it every third of this while
# it works; a holder whose process died is taken over after this.
LEASE_S = 60.0
# How often a search waiting for another one's index looks again.
WAIT_S = 0.1
# Chunks per embedding call (OpenAI's embeddings take up to 2048 inputs in one request).
BATCH = 64


class Upload(Protocol):
    """What indexing reads of an upload (store/uploads.py UploadRow)."""

    id: str
    filename: str
    content_type: str


async def ensure_indexed(gw: Gateway, key: KeyRow, upload: Upload, *, request_id: str) -> None:
    """Return once the upload is indexed with the configured model (or was deleted meanwhile)."""
    model = gw.settings.assistants.embedding_model
    owner = uuid.uuid4().hex  # this search: two searches of one process never share a claim
    while True:
        claim = await asyncio.to_thread(
            gw.db.claim_file_index, upload.id, model=model, owner=owner, lease_s=LEASE_S
        )
        if claim in (Claim.READY, Claim.GONE):
            return
        if claim is Claim.BUSY:
            await asyncio.sleep(WAIT_S)
            continue
        keeper = asyncio.create_task(_keep_claim(gw, upload.id, owner))
        try:
            if await _index(gw, key, upload, model, owner, request_id):
                return
        except BaseException:
            await asyncio.to_thread(gw.db.drop_file_claim, upload.id, owner)
            raise
        finally:
            keeper.cancel()
        # The claim was lost while indexing (the upload deleted, or a stall taken over): the next
        # claim says which.


async def _keep_claim(gw: Gateway, file_id: str, owner: str) -> None:
    """Renew the claim while the file is indexed, so that a slow embedding call (an upstream
    that takes minutes) is not taken for a dead holder; stops once the claim is lost."""
    while True:
        await asyncio.sleep(LEASE_S / 3)
        if not await asyncio.to_thread(gw.db.renew_file_claim, file_id, owner, LEASE_S):
            return


async def _index(gw: Gateway, key: KeyRow, upload: Upload, model: str, owner: str, request_id: str) -> bool:
    """Index the upload under this claim; False when the claim was lost on the way."""
    try:
        content = await asyncio.to_thread(gw.db.upload_content, upload.id)
    except KeyError:  # deleted since the search found it: its claim went with it
        return False
    try:
        text = await asyncio.to_thread(extract_text, upload.filename, upload.content_type, content)
    except UnreadableFile as exc:
        raise bad_request(
            f"file_search cannot read file {upload.id} ({upload.filename}): {exc}.", param="file_ids"
        ) from None
    settings = gw.settings.assistants
    catalogued = gw.catalog.lookup(model)
    size, overlap = chunk_plan(
        catalogued.context_length if catalogued else None,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    chunks = chunk_text(text, size=size, overlap=overlap)
    limit = settings.max_file_chunks
    if len(chunks) > limit:
        raise bad_request(
            f"file_search cannot index file {upload.id} ({upload.filename}): it cuts into "
            f"{len(chunks)} chunks of {size} tokens, more than the {limit} allowed "
            "([assistants] max_file_chunks).",
            param="file_ids",
        )
    vectors: list[bytes] = []
    batches = (len(chunks) + BATCH - 1) // BATCH
    for batch in range(batches):
        texts = chunks[batch * BATCH : (batch + 1) * BATCH]
        found = await embed_texts(
            gw,
            key,
            texts,
            request_id=request_id,
            note=f"file_search index of {upload.id}, chunks {batch * BATCH + 1}-{batch * BATCH + len(texts)}",
            entry_id=index_entry_id(upload.id, model, batch),
        )
        vectors.extend(pack(v) for v in found)
        if not await asyncio.to_thread(gw.db.renew_file_claim, upload.id, owner, LEASE_S):
            return False
    return await asyncio.to_thread(
        gw.db.finish_file_index, upload.id, owner, list(zip(chunks, vectors, strict=True))
    )
