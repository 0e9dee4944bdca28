#!/usr/bin/env python3
"""Generate src/omnigate/catalog/data/catalog.json from the reference material in ../shared.

    python scripts/build_catalog.py [--shared DIR] [--out FILE] [--check]

The reference files are read, never copied: what lands in the repo is our own catalogue (ids,
aliases, names, features, endpoints, compact per-model parameter rules and list prices).
Re-running on the same inputs gives byte-identical output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Sibling modules, found through the sys.path entry above (also when tests import this file).
from catalog_derive import (
    DEFAULT_ENDPOINT,
    as_int,
    compact,
    endpoints,
    family,
    features,
    find_price,
    fix_assistant_content,
    fix_responses_input,
    price_of,
    rule_key,
)
from catalog_documented import (
    Documented,
    doc_page_lists,
    model_enums_anywhere,
    model_list_rows,
    sort_documented,
)
from catalog_sources import (
    Row,
    Spec,
    doc_pages,
    load_prices,
    load_specs,
    parse_catalogue,
    split_ids,
)

__all__ = ["build", "parse_catalogue", "render", "split_ids"]

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "omnigate" / "catalog" / "data" / "catalog.json"
DOCS_BASE = "https://docs.aimlapi.com/api-references/"
# A catalogue id that differs from every OpenAPI enum by an evident typo (the docs spell it the
# enum's way eleven times and the catalogue's way twice): row id -> enum id.
MANUAL_LINKS = {"alibaba/wan2.2-vace-fun-14b-depth": "alibaba/wan2.2-vace-fun-a14b-depth"}
# Scratch pages left in the portal export (test copies, backups, auto-generated drafts).
JUNK_FILE = re.compile(r"test|copy|backup|d1m7|contructor", re.IGNORECASE)


def compatible(row_type: str, spec: Spec) -> bool:
    """Whether a page's endpoint family can document a row of this type."""
    fam = family(spec.paths[0])
    if row_type in ("chat-completion", "responses"):
        return fam in ("chat-completion", "responses")
    return fam == row_type


def loose(name: str) -> str:
    """Vendor prefix stripped, case and dot/dash spelling folded: `luma/ray-1.6` ~ `ray-1-6`."""
    return name.split("/", 1)[-1].lower().replace(".", "-")


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def pick(links: list[tuple[Spec, int]], names: list[str], kind: str, docs: set[str]) -> Spec | None:
    """The page that documents a row best: a real page, on the family's default path, that the
    docs portal still serves, of the newer format, named after the model, listing its id rather
    than an alias, most specific (fewest ids), with a description; ties go by path."""

    def score(item: tuple[Spec, int]) -> tuple[Any, ...]:
        spec, quality = item
        folder, _, stem = spec.rel.lower().replace("-responses", "").rpartition("/")
        named = any(squash(stem) in squash(n) or squash(n) in squash(stem) for n in names)
        return (
            bool(JUNK_FILE.search(spec.rel)),
            endpoints(spec.paths)[0] != DEFAULT_ENDPOINT.get(kind, ""),
            0 if spec.rel.lower() in docs else 1 if folder in docs else 2,
            not spec.modern,
            not named,
            quality,
            len(spec.enum),
            not spec.description,
            spec.rel,
        )

    return min(links, key=score)[0] if links else None


def deprecated_entries(rows: list[Row], log: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        if not row.ids:
            log.append(f"skipped deprecated row without id: {row.name} ({row.developer})")
        elif row.ids[0] in seen:
            log.append(f"skipped duplicate deprecated row: {row.ids[0]}")
        else:
            seen.update(row.ids)
            name = row.name or row.ids[0]
            out.append({"id": row.ids[0], "aliases": row.ids[1:], "name": name,
                        "developer": row.developer})  # fmt: skip
    return out


def active_rows(rows: list[Row], specs: list[Spec], dep_ids: set[str], log: list[str]) -> list[Row]:
    """Active rows with ids settled: id-less rows take their page's enum, deprecated ids go."""
    claimed = {i for r in rows for i in r.ids} | dep_ids
    out: list[Row] = []
    for row in rows:
        if not row.ids:  # Google OCR: "The service has no Model ID"; its page has one
            found = [
                s for s in specs
                if compatible(row.type, s) and s.rel.split("/")[1].lower() == row.developer.lower()
                and not claimed & set(s.enum)
            ]  # fmt: skip
            if len(found) != 1:
                log.append(f"skipped {row.table} row without id ({row.developer}): no unique page")
                continue
            row.ids = list(found[0].enum)
            claimed.update(row.ids)
            log.append(f"row without id ({row.developer}, {row.table}) -> {row.ids[0]} "
                       f"from the model enum of {found[0].rel}")  # fmt: skip
        if row.ids[0] in dep_ids:
            log.append(f"dropped active row {row.ids[0]}: listed as deprecated")
            continue
        for alias in [a for a in row.ids[1:] if a in dep_ids]:
            row.ids.remove(alias)
            log.append(f"dropped alias {alias} of {row.ids[0]}: listed as deprecated")
        out.append(row)
    return out


def link(
    rows: list[Row], specs: list[Spec], dep_ids: set[str], log: list[str]
) -> tuple[list[list[tuple[Spec, int]]], dict[str, int], dict[str, int]]:
    """Pages per row (with match quality 0 id, 1 alias, 2 loose/manual), the extra aliases that
    pages add (alias -> row) and the manual links (enum id -> row)."""
    owner = {name: n for n, r in enumerate(rows) for name in r.ids}
    by_loose: dict[str, set[int]] = {}
    for n, r in enumerate(rows):
        for name in r.ids:
            by_loose.setdefault(loose(name), set()).add(n)
    manual = {enum_id: owner[rid] for rid, enum_id in MANUAL_LINKS.items() if rid in owner}
    linked: list[list[tuple[Spec, int]]] = [[] for _ in rows]
    extra: dict[str, int] = {}
    unused = 0
    for spec in specs:
        hits = [(owner[e], int(rows[owner[e]].ids[0] != e)) for e in spec.enum if e in owner]
        hits += [(manual[e], 2) for e in spec.enum if e in manual]
        if not hits:  # e.g. `openai/sora-2-t2v` documents row `sora-2-t2v`; only if unique
            loose_hits = [by_loose.get(loose(e), set()) for e in spec.enum]
            hits = [(next(iter(c)), 2) for c in loose_hits if len(c) == 1]
        matched = list(dict.fromkeys(n for n, _ in hits if compatible(rows[n].type, spec)))
        if not matched:
            unused += 1
        elif any(q == 2 for _, q in hits):
            ids = ", ".join(rows[n].ids[0] for n in matched)
            log.append(
                f"linked {ids} to {spec.rel} via a folded or MANUAL_LINKS spelling: {', '.join(spec.enum)}"
            )
        for n in matched:
            linked[n].append((spec, min(q for m, q in hits if m == n)))
        for e in spec.enum:
            if not matched or e in owner or e in dep_ids:
                continue
            # An extra alias belongs to the row it names once prefixes are folded, else the first.
            same = [n for n in matched if any(loose(i) == loose(e) for i in rows[n].ids)]
            target = (same or matched)[0]
            if extra.setdefault(e, target) != target:
                kept = rows[extra[e]].ids[0]
                log.append(f"alias {e} wanted by {rows[target].ids[0]} too; kept on {kept}")
    log.append(f"{unused} OpenAPI pages document no active model (deprecated or not listed)")
    for n in (n for n, pages in enumerate(linked) if not pages):
        log.append(f"{rows[n].ids[0]}: no OpenAPI page lists it, so it has no rules")
    return linked, extra, manual


def chat_rules(spec: Spec) -> dict[str, Any]:
    return fix_assistant_content(compact(spec.schema, top=True))


def model_entry(
    row: Row, aliases: list[str], chat: Spec | None, resp: Spec | None, prices: dict[str, Any],
    rule_sets: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    kind = "responses" if row.type == "chat-completion" and resp and not chat else row.type
    main = chat or resp
    resp_rules = fix_responses_input(compact(resp.schema, top=True)) if resp else None
    rules = resp_rules if kind == "responses" else chat_rules(main) if main else None
    eps = endpoints(main.paths) if main else [DEFAULT_ENDPOINT[kind]]
    if resp and "/v1/responses" not in eps:
        eps.append("/v1/responses")
    if kind == "video" and DEFAULT_ENDPOINT["video"] not in eps:
        eps.append(DEFAULT_ENDPOINT["video"])  # the universal video route serves every model
    if kind == "stt" and eps == ["/v1/stt"]:
        # A page of the legacy synchronous route (Deepgram's redaction): like every STT model's,
        # its listed route is the task one; /v1/stt serves every STT model anyway.
        eps = [DEFAULT_ENDPOINT["stt"]]
    source = find_price([row.ids[0], *aliases], kind, prices)
    entry = prices[source] if source else {}
    chatty = kind in ("chat-completion", "responses")
    return {
        "id": row.ids[0],
        "aliases": aliases,
        "type": kind,
        "name": row.name or row.ids[0],
        "developer": row.developer,
        "description": main.description if main else "",
        "context_length": row.context or as_int(entry.get("max_input_tokens")),
        "max_output_tokens": as_int(entry.get("max_output_tokens")),
        "features": features(rules, kind == "responses", resp is not None) if chatty else [],
        "endpoints": eps,
        "rules": rule_key(rules, rule_sets),
        "responses_rules": rule_key(resp_rules, rule_sets),
        "price": price_of(entry),
        "price_source": source,
        "url": "",
        "docs_url": DOCS_BASE + main.rel if main else "",
    }


def build(shared: Path, log: list[str] | None = None) -> dict[str, Any]:
    """The catalogue as a JSON-ready dict; human-readable notes are appended to `log`."""
    log = [] if log is None else log
    notes = (shared / "spec" / "notes" / "model-catalogue.md").read_text(encoding="utf-8")
    active, dep_rows = parse_catalogue(notes)
    ref = shared / "reference"
    specs = load_specs(ref / "aimlapi-openapi")
    prices = load_prices(ref / "model-prices.json")
    docs = doc_pages(ref / "aimlapi-docs" / "api-references")

    deprecated = deprecated_entries(dep_rows, log)
    dep_ids = {name for d in deprecated for name in (d["id"], *d["aliases"])}
    rows = active_rows(active, specs, dep_ids, log)
    linked, extra, manual = link(rows, specs, dep_ids, log)
    found = documented(rows, specs, extra, manual, deprecated, ref, log)
    for row in found.new:
        rows.append(row)
        linked.append([(s, 0) for s in specs if row.ids[0] in s.enum and compatible(row.type, s)])
    owner = {r.ids[0]: n for n, r in enumerate(rows)}
    extra.update({alias: owner[model_id] for alias, model_id in found.aliases.items()})
    current = {name: r.ids[0] for r in rows for name in r.ids}
    add_retired(deprecated, found, current | {a: rows[n].ids[0] for a, n in extra.items()}, log)
    dep_ids = {name for d in deprecated for name in (d["id"], *d["aliases"])}
    rule_sets: dict[str, Any] = {}
    models = []
    for n, row in enumerate(rows):
        aliases = row.ids[1:] + sorted(e for e, t in extra.items() if t == n)
        names = [*row.ids, *aliases, *(e for e, t in manual.items() if t == n)]
        chat = pick([x for x in linked[n] if not x[0].responses], names, row.type, docs)
        resp = pick([x for x in linked[n] if x[0].responses], names, row.type, docs)
        models.append(model_entry(row, aliases, chat, resp, prices, rule_sets))
    check_unique(models, dep_ids)
    return {
        "version": 1,
        "generated_by": "scripts/build_catalog.py",
        "rule_sets": dict(sorted(rule_sets.items())),
        "models": models,
        "deprecated": deprecated,
    }


def documented(
    rows: list[Row], specs: list[Spec], extra: dict[str, int], manual: dict[str, int],
    deprecated: list[dict[str, Any]], ref: Path, log: list[str],
) -> Documented:  # fmt: skip
    """The ids pages document beyond the seed's rows (see catalog_documented), noted in `log`."""
    active = {name: r.ids[0] for r in rows for name in r.ids}
    active.update({name: rows[n].ids[0] for name, n in (*extra.items(), *manual.items())})
    retired = [name for d in deprecated for name in (d["id"], *d["aliases"])]
    docs = ref / "aimlapi-docs" / "api-references"
    found = sort_documented(
        specs,
        doc_page_lists(docs),
        model_enums_anywhere(ref / "aimlapi-openapi"),
        model_list_rows(docs / "model-database.md"),
        active,
        retired,
        loose,
        lambda spec: "chat-completion" if family(spec.paths[0]) == "responses" else family(spec.paths[0]),
    )
    log.append(f"documented beyond the seed's tables: {len(found.new)} new models, "
               f"{len(found.aliases)} aliases, {len(found.retired)} retired aliases")  # fmt: skip
    log += [f"  new {r.type}: {r.ids[0]}" for r in found.new]
    log += [f"  alias {a} -> {m}" for a, m in found.aliases.items()]
    log += [f"  retired alias {a} -> {r}" for a, r in found.retired.items()]
    log += [f"  left out {a}: {why}" for a, why in found.left_out.items()]
    return found


def add_retired(
    deprecated: list[dict[str, Any]], found: Documented, active: dict[str, str], log: list[str]
) -> None:
    """Retired aliases join their entry; an entry whose id differs from an active name only by
    case names that model as its replacement (the docs list both spellings). `active`: name -> id."""
    folded = {name.lower(): model_id for name, model_id in active.items()}
    for entry in deprecated:
        names = (entry["id"], *entry["aliases"])
        entry["aliases"] += [a for a, r in found.retired.items() if r in names]
        for name in names:
            if name.lower() in folded:
                entry["replacement"] = folded[name.lower()]
                log.append(f"retired {name}: replaced by {entry['replacement']}")
                break


def check_unique(models: list[dict[str, Any]], dep_ids: set[str]) -> None:
    seen: dict[str, str] = {}
    for m in models:
        for name in (m["id"], *m["aliases"]):
            if name in seen or name in dep_ids:
                other = seen.get(name, "deprecated")
                raise SystemExit(f"catalogue conflict: {name} ({m['id']}, {other})")
            seen[name] = m["id"]


def render(data: dict[str, Any]) -> str:
    """Deterministic JSON text, one rule set / model per line so diffs stay reviewable."""
    head = f'{{"version":{data["version"]},"generated_by":{_dump(data["generated_by"])},\n'
    rules = ",\n".join(f"{_dump(k)}:{_dump(v)}" for k, v in data["rule_sets"].items())
    models = ",\n".join(_dump(m) for m in data["models"])
    deprecated = ",\n".join(_dump(d) for d in data["deprecated"])
    return (
        f'{head}"rule_sets":{{\n{rules}\n}},\n"models":[\n{models}\n],\n"deprecated":[\n{deprecated}\n]}}\n'
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def summary(data: dict[str, Any], log: list[str]) -> str:
    models = data["models"]
    types = ", ".join(f"{t} {c}" for t, c in sorted(Counter(m["type"] for m in models).items()))
    no_rules = [m["id"] for m in models if m["rules"] is None]
    dep = data["deprecated"]
    lines = [
        f"models: {len(models)} ({types})",
        f"rule sets: {len(data['rule_sets'])}; models without rules: {len(no_rules)}",
        *(f"  no rules: {i}" for i in no_rules),
        f"models with prices: {sum(1 for m in models if m['price'])}; "
        f"with max_output_tokens: {sum(1 for m in models if m['max_output_tokens'])}",
        f"aliases: {sum(len(m['aliases']) for m in models)}",
        f"deprecated: {len(dep)} entries, {sum(1 + len(d['aliases']) for d in dep)} ids",
    ]
    return "\n".join(lines + [f"note: {line}" for line in log])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="fail if the output file is stale")
    args = parser.parse_args(argv)
    log: list[str] = []
    data = build(args.shared, log)
    text = render(data)
    print(summary(data, log))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: re-run scripts/build_catalog.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
