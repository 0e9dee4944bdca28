"""The ids the reference documents beyond the seed's tables, for `build_catalog.py`.

The seed's model tables (model-catalogue.md) leave out ids that the reference still documents: an
OpenAPI page's `model` enum (`openai/gpt-5-2`, `bagoodex/bagoodex-search-v1`, ...), the "valid for
the following list of our models" list at the top of a docs page (`anthropic/claude-sonnet-4-5`),
or a `model` enum elsewhere in a page (a response's `mistral-ocr-latest`, the `image_generation`
tool's `gpt-image-1`). Each such id is sorted into one of:

- retired: it folds onto a retired id (`anthropic/claude-3.5-sonnet-20240620`), or shares an
  OpenAPI page with one, and no published docs page lists it: a retired alias;
- alias: it folds onto exactly one active name (`gpt-image-1` ~ `openai/gpt-image-1`);
- new: an OpenAPI page's request enum names it: a model of its own, typed by that page;
- left out: named only by an unpublished (`hidden: true`) docs page, or a typo (`LEFT_OUT`).

Ids that differ from a retired id only by case need nothing here: the catalogue answers every
case variant of a retired id "no longer available". Unless a published docs page lists one as
current: `gryphe/mythomax-l2-13b` is a model, and the retired `Gryphe/MythoMax-L2-13b` names it
as its replacement.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_sources import NO_NAME, Row, Spec

# Ids a docs page lists that are evidently misspelt; the page's other ids name the model.
LEFT_OUT = {"anthropic/claude-ous-4-5": "typo of anthropic/claude-opus-4-5 (same page lists claude-opus-4-5)"}
LIST_MARK = "following list of our models"


@dataclass
class DocPage:
    rel: str  # path below api-references, without ".md"
    title: str
    ids: list[str]
    hidden: bool


@dataclass
class Documented:
    """What the reference documents beyond the seed's rows, sorted (see the module docstring)."""

    new: list[Row] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # id -> active name it folds onto
    retired: dict[str, str] = field(default_factory=dict)  # id -> retired id it belongs to
    left_out: dict[str, str] = field(default_factory=dict)  # id -> why


def doc_page_lists(docs_root: Path) -> list[DocPage]:
    """Every docs page that opens with a "valid for the following list of our models" list."""
    pages: list[DocPage] = []
    for file in sorted(docs_root.rglob("*.md")):
        text = file.read_text(encoding="utf-8", errors="replace")
        start = text.find(LIST_MARK)
        if start < 0:
            continue
        ends = [i for i in (text.find("{% endhint", start), text.find("</div>", start)) if i > 0]
        block = text[start : min(ends, default=start + 2000)]
        ids = [html.unescape(a or b) for a, b in re.findall(r"`([^`]+)`|<code>(.*?)</code>", block)]
        title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), "")
        front = text.split("---", 2)[1] if text.startswith("---") else ""
        rel = file.relative_to(docs_root).with_suffix("").as_posix()
        pages.append(DocPage(rel, title, ids, bool(re.search(r"^hidden:\s*true", front, re.M))))
    return pages


def model_enums_anywhere(root: Path) -> dict[str, list[str]]:
    """Every value of any `model` property's enum in any OpenAPI file -> the files naming it."""
    found: dict[str, list[str]] = {}

    def walk(node: Any, rel: str) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            prop = props.get("model") if isinstance(props, dict) else None
            if isinstance(prop, dict):
                for value in [*(prop.get("enum") or []), *([prop["const"]] if "const" in prop else [])]:
                    if isinstance(value, str) and rel not in found.setdefault(value, []):
                        found[value].append(rel)
            for value in node.values():
                walk(value, rel)
        elif isinstance(node, list):
            for value in node:
                walk(value, rel)

    for file in sorted(root.rglob("*.json")):
        walk(json.loads(file.read_text(encoding="utf-8")), file.relative_to(root).with_suffix("").as_posix())
    return found


def model_list_rows(path: Path) -> dict[str, tuple[str | None, str, int | None]]:
    """Active rows of the docs portal's "All Model IDs" page: id -> (card name, developer, context)."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8").split("Deprecated / No Longer Supported", 1)[0]
    rows: dict[str, tuple[str | None, str, int | None]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", text):
        cells = [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        if len(cells) < 4:
            continue
        digits = cells[2].replace(",", "")
        card = None if cells[3] in NO_NAME else html.unescape(cells[3])
        for name in html.unescape(cells[0]).split():
            rows.setdefault(name, (card, html.unescape(cells[1]), int(digits) if digits.isdigit() else None))
    return rows


def sort_documented(
    specs: list[Spec],
    pages: list[DocPage],
    anywhere: dict[str, list[str]],
    listed: dict[str, tuple[str | None, str, int | None]],
    active: dict[str, str],
    retired: list[str],
    loose: Callable[[str], str],
    family_of: Callable[[Spec], str],
) -> Documented:
    """Sort every documented id the catalogue does not know yet (`active`: name -> model id)."""
    out = Documented()
    published = {i for p in pages if not p.hidden for i in p.ids}
    retired_folded = {r.lower() for r in retired}
    retired_loose = {loose(r): r for r in retired}
    known = set(active) | set(retired)
    active_loose: dict[str, set[str]] = {}
    for name, model_id in active.items():
        active_loose.setdefault(loose(name), set()).add(model_id)

    def gone(name: str) -> bool:
        # A case variant of a retired id is retired too, unless a published page lists it.
        return (
            name in retired
            or name in out.retired
            or (name.lower() in retired_folded and name not in published)
        )

    def unknown(name: str) -> bool:
        return name not in known and not gone(name)

    # Retired: folded onto a retired id, or sharing a page with one (to a fixed point: a page of
    # `-latest` aliases can name another page's retired snapshot only through an alias).
    changed = True
    while changed:
        changed = False
        for spec in specs:
            # Pages list the newest snapshot last: a `-latest` alias goes with it.
            last = next((e for e in reversed(spec.enum) if gone(e)), None)
            for e in (e for e in spec.enum if unknown(e) and e not in published):
                target = retired_loose.get(loose(e)) or (out.retired.get(last, last) if last else None)
                if target:
                    out.retired[e] = retired_loose.get(loose(target), target)
                    changed = True

    request_ids = {e: [s for s in specs if e in s.enum] for s in specs for e in s.enum}
    candidates = [*request_ids, *(i for p in pages for i in p.ids), *anywhere]
    for name in dict.fromkeys(candidates):
        if not unknown(name):
            continue
        if name in LEFT_OUT:
            out.left_out[name] = LEFT_OUT[name]
            continue
        targets = active_loose.get(loose(name), set())
        if len(targets) == 1:
            out.aliases[name] = next(iter(targets))
            continue
        if name in request_ids:
            out.new.append(_row(name, request_ids[name], pages, listed, family_of))
            continue
        on_pages = [p.rel for p in pages if name in p.ids]
        if on_pages:  # published pages of new models have an OpenAPI page too (so far)
            why = "no OpenAPI page types it" if name in published else "only unpublished pages list it"
        else:
            why = "named only by a response or tool schema, folding onto no catalogue model"
        out.left_out[name] = f"{why}: {', '.join((on_pages or anywhere.get(name, []))[:3])}"
    _page_names(
        pages, out, {**active, **{r.ids[0]: r.ids[0] for r in out.new}, **out.aliases}, unknown, loose
    )
    return out


def _page_names(
    pages: list[DocPage],
    out: Documented,
    resolves: dict[str, str],
    unknown: Callable[[str], bool],
    loose: Callable[[str], str],
) -> None:
    """A published page titled with its model's id less the vendor prefix, dots for dashes (the
    `gpt-5.2` page documents `openai/gpt-5-2`): readers send that title, so it is an alias."""
    for page in pages:
        title = page.rel.rsplit("/", 1)[-1]
        if page.hidden or page.title.strip() != title or not unknown(title) or title in out.aliases:
            continue
        targets = {resolves[i] for i in page.ids if i in resolves and loose(i) == loose(title)}
        if len(targets) == 1:
            out.aliases[title] = next(iter(targets))


def _row(
    name: str,
    specs: list[Spec],
    pages: list[DocPage],
    listed: dict[str, tuple[str | None, str, int | None]],
    family_of: Callable[[Spec], str],
) -> Row:
    """A catalogue row for an id only an OpenAPI page names: typed by its page, named by the
    docs portal's model list or page title, its developer the page's folder."""
    kind = family_of(specs[0])
    card, developer, context = listed.get(name, (None, "", None))
    title = next((p.title for p in pages if name in p.ids and not p.hidden), None)
    developer = developer or specs[0].rel.split("/")[-2].replace("-", " ")
    return Row([name], card or title, developer, context, kind, "documented")
