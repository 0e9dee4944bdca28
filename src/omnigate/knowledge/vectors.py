"""Embeddings as the index stores them, and the exact nearest-neighbour ranking over them.

Vectors are stored L2-normalised as little-endian float32 bytes, so a cosine is a dot product.
Ranking is exact, in the process, over the chunks of the files a search names (a handful of files,
thousands of chunks at most): numpy where it is installed (the [local] extra), plain Python else.

A score is the cosine mapped onto [0, 1]: (1 + cos) / 2, so 1 is the same direction, 0.5 no
relation, 0 the opposite one (what file_search's `score_threshold` range expects).
"""

from __future__ import annotations

import math
import operator
import sys
from array import array
from collections.abc import Sequence

try:
    import numpy as np
except ImportError:  # the core install: the ranking runs in plain Python
    np = None  # type: ignore[assignment]


def pack(vector: Sequence[float]) -> bytes:
    """A vector as stored: normalised (a zero vector stays zero), little-endian float32."""
    norm = math.sqrt(sum(x * x for x in vector))
    packed = array("f", (x / norm for x in vector) if norm > 0 else vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(data: bytes) -> array:
    values = array("f")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def score(cosine: float) -> float:
    return min(1.0, max(0.0, (1.0 + cosine) / 2.0))


def rank(query: bytes, candidates: Sequence[bytes], k: int) -> list[tuple[int, float]]:
    """The `k` candidates nearest the query as (index into candidates, score), best first; ties
    keep the candidates' order. A candidate of another dimension than the query never ranks."""
    cosines = cosines_numpy(query, candidates) if np is not None else cosines_python(query, candidates)
    order = sorted((i for i, c in enumerate(cosines) if c is not None), key=lambda i: -cosines[i])  # type: ignore[operator]
    return [(i, score(cosines[i])) for i in order[:k]]  # type: ignore[arg-type]


def cosines_python(query: bytes, candidates: Sequence[bytes]) -> list[float | None]:
    q = unpack(query)
    return [sum(map(operator.mul, q, unpack(c))) if len(c) == len(query) else None for c in candidates]


def cosines_numpy(query: bytes, candidates: Sequence[bytes]) -> list[float | None]:
    q = np.frombuffer(query, dtype="<f4")
    same = [i for i, c in enumerate(candidates) if len(c) == len(query)]
    out: list[float | None] = [None] * len(candidates)
    if same:
        matrix = np.frombuffer(b"".join(candidates[i] for i in same), dtype="<f4").reshape(len(same), -1)
        for i, value in zip(same, (matrix @ q).tolist(), strict=True):
            out[i] = value
    return out
