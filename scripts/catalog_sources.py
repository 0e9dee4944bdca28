"""Readers for the reference material that `build_catalog.py` turns into the committed catalogue.

Three inputs, all read-only and never copied into the repo:
- `spec/notes/model-catalogue.md`: markdown tables of the active and deprecated model ids;
- `reference/aimlapi-openapi/**.json`: one OpenAPI 3 file per documentation page;
- `reference/model-prices.json`: a LiteLLM-format price map.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Heading fragment of each active table -> catalogue `type` (order matters: first match wins).
SECTION_TYPES: tuple[tuple[str, str], ...] = (
    ("Text Models", "chat-completion"),
    ("Image Models", "image"),
    ("Video Models", "video"),
    ("Speech-to-Text", "stt"),
    ("Text-to-Speech", "tts"),
    # The notes say the Voice Chat table holds TTS models (ElevenLabs v3, MiniMax speech).
    ("Voice Chat", "tts"),
    ("Music Models", "audio"),
    ("Content Moderation", "chat-completion"),
    ("Optical Character Recognition", "document"),
    ("3D-Generating", "image"),
    ("Embedding Models", "embedding"),
)
NO_NAME = {"", "-", "\u2013", "Coming Soon", "(none)"}


@dataclass
class Row:
    """One table row of model-catalogue.md."""

    ids: list[str]
    name: str | None
    developer: str
    context: int | None
    type: str
    table: str


@dataclass
class Spec:
    """The parts of one OpenAPI file the catalogue needs."""

    rel: str  # path below aimlapi-openapi, without ".json"
    paths: list[str]  # POST paths in file order
    schema: dict[str, Any]  # request-body schema of the first POST path, $refs resolved
    enum: list[str]  # ids listed by the `model` property
    description: str = ""
    responses: bool = False
    modern: bool = False  # newer pages type `model` as a string and list un-versioned twins


# --- model-catalogue.md ------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    # Split on unescaped pipes only: alias lists are written as `a \| b` inside one cell.
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def split_ids(cell: str) -> list[str]:
    """The ids of one "Model ID" cell: space-, " or "-, comma- or ` | `-separated aliases."""
    text = cell.replace("`", "").replace("\\|", " ").strip()
    if text.startswith("(none"):
        return []
    parts = re.split(r"\s+or\s+|[\s,|]+", text)
    return [p for p in parts if p and p != "-"]


def _name(cell: str) -> str | None:
    return None if cell.strip() in NO_NAME else cell.strip()


def _context(cell: str) -> int | None:
    digits = cell.replace(",", "").strip()
    return int(digits) if digits.isdigit() else None


def parse_catalogue(text: str) -> tuple[list[Row], list[Row]]:
    """Active rows (in table order) and deprecated rows (as written, duplicates included)."""
    active: list[Row] = []
    deprecated: list[Row] = []
    part = ""
    table = ""
    kind = ""
    for line in text.splitlines():
        if line.startswith("## "):
            part = "deprecated" if line.startswith("## Deprecated") else line[3:].strip()
            table, kind = "", ""
        elif line.startswith("### ") and part == "Active models":
            table = line[4:].split(" \u2014 ")[0].strip()
            kind = next((t for frag, t in SECTION_TYPES if frag in table), "")
            if not kind:
                raise ValueError(f"unknown table heading: {line!r}")
        elif re.match(r"^\|\s*\d+\s*\|", line):
            cells = _cells(line)
            row = Row(split_ids(cells[1]), _name(cells[2]), cells[3], _context(cells[4]), kind, table)
            if part == "deprecated":
                deprecated.append(row)
            elif kind:
                active.append(row)
    return active, deprecated


# --- OpenAPI files -----------------------------------------------------------------------


def _resolve(node: Any, doc: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline every local `$ref` (a recursive reference becomes `{}`, i.e. "anything")."""
    if isinstance(node, list):
        return [_resolve(x, doc, seen) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if ref in seen:
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, doc, (*seen, ref))
    return {k: _resolve(v, doc, seen) for k, v in node.items()}


def model_enum(schema: dict[str, Any]) -> list[str]:
    """Ids named by the `model` property, looking through allOf/anyOf/oneOf branches too."""
    found: list[str] = []
    stack = [schema]
    while stack:
        node = stack.pop(0)
        prop = node.get("properties", {}).get("model", {})
        values = prop.get("enum") or ([prop["const"]] if "const" in prop else [])
        found += [v for v in values if isinstance(v, str) and v not in found]
        for key in ("allOf", "anyOf", "oneOf"):
            stack += [b for b in node.get(key, []) if isinstance(b, dict)]
    return found


def load_specs(root: Path) -> list[Spec]:
    """Every OpenAPI file that documents a POST with a JSON body and a `model` enum."""
    specs: list[Spec] = []
    for file in sorted(root.rglob("*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        posts = []
        for path, item in doc.get("paths", {}).items():
            op = item.get("post") if isinstance(item, dict) else None
            body = (op or {}).get("requestBody", {}).get("content", {})
            if "application/json" in body:
                posts.append((path, op, body["application/json"].get("schema", {})))
        if not posts:
            continue
        schema = _resolve(posts[0][2], doc)
        enum = model_enum(schema)
        if not enum:
            continue
        rel = file.relative_to(root).with_suffix("").as_posix()
        specs.append(
            Spec(
                rel=rel,
                paths=[p for p, _, _ in posts],
                schema=schema,
                enum=enum,
                # Operation summaries are boilerplate ("Generate a conversational response ...");
                # only a page-level description says something about the model.
                description=(doc.get("info", {}).get("description") or "").strip(),
                responses=rel.endswith("-RESPONSES"),
                modern=len(posts) > 1 or "type" in schema.get("properties", {}).get("model", {}),
            )
        )
    return specs


def load_prices(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict) and k != "sample_spec"}


def doc_pages(docs_root: Path) -> set[str]:
    """Lower-cased page and folder paths of the docs portal (to prefer the page that is live)."""
    if not docs_root.is_dir():
        return set()
    pages = {p.relative_to(docs_root).with_suffix("").as_posix().lower() for p in docs_root.rglob("*.md")}
    return pages | {page.rpartition("/")[0] for page in pages}
