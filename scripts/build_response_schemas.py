#!/usr/bin/env python3
"""Extract the schemas of OpenAI's Responses objects from its OpenAPI spec in ../shared.

    python scripts/build_response_schemas.py [--spec FILE] [--out FILE]

The conformance tests validate what the gateway sends against these schemas. The spec itself
stays outside the repository; what lands in tests/responses/data is the part the tests need:
`Response`, `ResponseStreamEvent` and `ResponseItemList`, with every schema they refer to.
Re-running on the same spec gives byte-identical output.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = REPO.parent / "shared" / "reference" / "openai-openapi.yaml"
DEFAULT_OUT = REPO / "tests" / "responses" / "data" / "openai_response_schemas.json"
ROOTS = ("Response", "ResponseStreamEvent", "ResponseItemList")
_REF = re.compile(r'"#/components/schemas/([^"]+)"')


def extract(
    spec: Path, roots: tuple[str, ...] = ROOTS, by: str = "scripts/build_response_schemas.py"
) -> dict[str, Any]:
    """The `roots` with every schema they refer to (scripts/build_assistant_schemas.py and
    build_batch_schemas.py ask for other roots, and name themselves in `by`)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the spec is about 3 MB
    with spec.open(encoding="utf-8") as handle:
        schemas = yaml.load(handle, Loader=loader)["components"]["schemas"]
    needed: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending += _REF.findall(json.dumps(schemas[name]))
    return {
        "generated_by": by,
        "roots": list(roots),
        "components": {"schemas": {name: schemas[name] for name in sorted(needed)}},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    text = render(extract(args.spec))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()
