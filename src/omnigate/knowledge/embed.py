"""Embedding texts for file_search through the pipeline, as /v1/embeddings does: the key's scopes
and limits, the worst case held, the deployments tried in order, the tokens charged.

A file's chunks are charged under a ledger entry id of their own (`index_entry_id`): a file is
charged once for its index however many searches wait for it, and a search that takes over an
index whose first holder stopped after charging does not charge it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import math

import orjson

from omnigate.api.chat_call import EMBEDDINGS, embed_at, estimated_usage, settle_tokens, token_estimate
from omnigate.api.pipeline import admit
from omnigate.errors import ApiError
from omnigate.gateway import Gateway
from omnigate.store.rows import KeyRow


def index_entry_id(file_id: str, model: str, batch: int) -> str:
    """The ledger entry of one batch of a file's chunks, embedded with `model` (the model's name
    is hashed: ids are at most 100 characters, and model names up to 200)."""
    digest = hashlib.sha256(model.encode()).hexdigest()[:12]
    return f"file_search:{file_id}:{digest}:{batch}"


async def embed_texts(
    gw: Gateway,
    key: KeyRow,
    texts: list[str],
    *,
    request_id: str,
    note: str,
    entry_id: str | None = None,
) -> list[list[float]]:
    """One vector per text, in order, from the configured embedding model."""
    body = {"model": gw.settings.assistants.embedding_model, "input": texts}
    size = len(orjson.dumps(body))
    call = await admit(
        gw,
        key,
        body,
        family=EMBEDDINGS,
        estimate=token_estimate(size, gw.settings.billing, generates=False),
        request_id=request_id,
        body_size=size,
    )
    try:
        result = await call.attempt(lambda deployment: embed_at(call, deployment))
        vectors = _vectors(result, len(texts), call.served_model)
        if entry_id is None or await asyncio.to_thread(gw.db.ledger_amount, entry_id) is None:
            usage = result.get("usage") or estimated_usage(call, 0)
            await settle_tokens(call, usage, result, note=note, entry_id=entry_id)
        return vectors
    finally:
        await call.release()


def _vectors(result: dict, count: int, model: str) -> list[list[float]]:
    """The answer's vectors by their `index`; an answer that is not one finite vector per text,
    all of one size, is the upstream's fault (502), never stored."""
    data = result.get("data")
    found: dict[int, list[float]] = {}
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and isinstance(item.get("index"), int):
                vector = item.get("embedding")
                if isinstance(vector, list) and vector and all(_finite(x) for x in vector):
                    found[item["index"]] = [float(x) for x in vector]
    vectors = [found.get(i) for i in range(count)]
    if any(v is None for v in vectors) or len({len(v) for v in vectors if v}) > 1:
        raise ApiError(
            502,
            f"The embedding model {model} did not answer one vector per text; file_search cannot use it.",
            code="upstream_error",
        )
    return vectors  # type: ignore[return-value]


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
