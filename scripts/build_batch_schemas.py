#!/usr/bin/env python3
"""Extract the schemas of OpenAI's Batch objects from its OpenAPI spec in ../shared, with the
functions of build_response_schemas.py, into a file of their own.

    python scripts/build_batch_schemas.py [--spec FILE] [--out FILE]

The e2e tests of OpenAI-shape batches validate what the gateway sends against these: `Batch` and
`ListBatchesResponse`, with every schema they refer to. Re-running gives byte-identical output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from build_response_schemas import DEFAULT_SPEC, REPO, extract, render

DEFAULT_OUT = REPO / "tests" / "responses" / "data" / "openai_batch_schemas.json"
ROOTS = ("Batch", "ListBatchesResponse")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    text = render(extract(args.spec, ROOTS, by="scripts/build_batch_schemas.py"))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()
