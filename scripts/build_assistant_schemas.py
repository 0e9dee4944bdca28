#!/usr/bin/env python3
"""Extract the schemas of OpenAI's Assistants v2 objects and stream events from its OpenAPI spec.

    python scripts/build_assistant_schemas.py [--spec FILE] [--out FILE]

The same extraction as scripts/build_response_schemas.py (whose code this reuses), for other
roots: the conformance tests in tests/assistants validate every object and stream event the
gateway sends against what lands in tests/assistants/data. Byte-identical on re-runs.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "assistants" / "data" / "openai_assistant_schemas.json"
ROOTS = (
    "AssistantObject",
    "ThreadObject",
    "MessageObject",
    "RunObject",
    "RunStepObject",
    "AssistantStreamEvent",
    "DeleteAssistantResponse",
    "DeleteThreadResponse",
    "DeleteMessageResponse",
    "ListAssistantsResponse",
    "ListMessagesResponse",
    "ListRunsResponse",
    "ListRunStepsResponse",
)


def _shared():
    path = Path(__file__).with_name("build_response_schemas.py")
    spec = importlib.util.spec_from_file_location("build_response_schemas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(spec: Path) -> str:
    shared = _shared()
    document = shared.extract(spec, roots=ROOTS)
    document["generated_by"] = "scripts/build_assistant_schemas.py"
    return shared.render(document)


def main() -> None:
    shared = _shared()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=shared.DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    text = build(args.spec)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()
