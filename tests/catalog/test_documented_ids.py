"""The ids the reference documents beyond the seed's tables, as the committed catalogue holds them.

The seed's model tables leave out ids that OpenAPI pages and docs pages still document
(scripts/catalog_documented.py sorts them): each now resolves to a model of its page's type, folds
onto the model it names, or answers as retired; case variants of retired ids are retired too.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from omnigate.catalog.loader import Catalog

CATALOG = Catalog.load()

# id -> type: models only an OpenAPI page (and the docs page over it) documents.
NEW_MODELS = {
    "openai/gpt-5-2": "chat-completion",
    "openai/gpt-5-2-chat-latest": "chat-completion",
    "openai/gpt-5-2-pro": "responses",
    "openai/gpt-5-pro": "responses",
    "gryphe/mythomax-l2-13b": "chat-completion",
    "bagoodex/bagoodex-search-v1": "chat-completion",
    "#g1_redaction": "stt",
    "kling-video/v1.5/pro/image-to-video": "video",
    "kling-video/v1.5/pro/text-to-video": "video",
    "kling-video/v1.5/standard/image-to-video": "video",
    "klingai/video-o1-image-to-video": "video",
    "minimax/hailuo-2.3": "video",
    "minimax/hailuo-2.3-fast": "video",
    "pixverse/v5.5/image-to-video": "video",
    "pixverse/v5.5/text-to-video": "video",
    "runway-gen3/turbo/image-to-video": "video",
}
# Documented spellings of models the catalogue already has: alias -> model id.
NEW_ALIASES = {
    "gpt-image-1": "openai/gpt-image-1",  # the image_generation tool's model on Responses pages
    "mistral-ocr-latest": "mistral/mistral-ocr-latest",  # the OCR answer's model
    "anthropic/claude-3-haiku": "claude-3-haiku-20240307",
    "anthropic/claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
}
# Pages of retired Claude 3.5 Sonnet snapshots list these too: alias -> retired id.
RETIRED_ALIASES = {
    "anthropic/claude-3.5-sonnet": "claude-3-5-sonnet-20241022",
    "anthropic/claude-3.5-sonnet-20240620": "claude-3-5-sonnet-20240620",
    "anthropic/claude-3.5-sonnet-20241022": "claude-3-5-sonnet-20241022",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
}


@pytest.mark.parametrize(("name", "kind"), NEW_MODELS.items())
def test_every_newly_documented_model_resolves(name: str, kind: str) -> None:
    model = CATALOG.lookup(name)
    assert model is not None and model.id == name and model.type == kind
    assert model.docs_url.startswith("https://docs.aimlapi.com/api-references/")
    assert model.endpoints


@pytest.mark.parametrize(("alias", "model_id"), NEW_ALIASES.items())
def test_documented_spellings_fold_onto_their_model(alias: str, model_id: str) -> None:
    model = CATALOG.lookup(alias)
    assert model is not None and model.id == model_id and alias in model.aliases


@pytest.mark.parametrize(("alias", "retired_id"), RETIRED_ALIASES.items())
def test_retired_aliases_are_retired(alias: str, retired_id: str) -> None:
    assert CATALOG.lookup(alias) is None
    retired = CATALOG.retired(alias)
    assert retired is not None and retired.id == alias
    assert CATALOG.retired(retired_id) is not None


@pytest.mark.parametrize(
    "name",
    [
        "O1-Mini",  # retired o1-mini
        "meta-llama/Llama-2-7b-chat-hf",  # retired Meta-Llama/Llama-2-7b-chat-hf, documented so
        "meta-llama/Meta-Llama-3-70B-Instruct-Turbo",  # retired meta-llama/meta-llama-3-70b-...
        "ANTHROPIC/CLAUDE-3.5-SONNET",
    ],
)
def test_case_variants_of_retired_ids_are_retired(name: str) -> None:
    assert CATALOG.lookup(name) is None
    assert CATALOG.retired(name) is not None


def test_a_retired_spelling_names_its_current_twin() -> None:
    # The docs list `gryphe/mythomax-l2-13b` as current and `Gryphe/MythoMax-L2-13b` as retired.
    assert CATALOG.lookup("Gryphe/MythoMax-L2-13b") is None
    retired = CATALOG.retired("Gryphe/MythoMax-L2-13b")
    assert retired is not None and retired.replacement == "gryphe/mythomax-l2-13b"
    # Any other case variant is the current model (the retired spelling is the only one taken).
    model = CATALOG.lookup("GRYPHE/mythomax-L2-13B")
    assert model is not None and model.id == "gryphe/mythomax-l2-13b"


def test_page_titles_name_their_model() -> None:
    # A docs page titled with its id less the vendor prefix, dots for dashes, is how readers
    # name that model: `gpt-5.2` is the page of `openai/gpt-5-2`.
    for title, model_id in {
        "gpt-5.2": "openai/gpt-5-2",
        "gpt-5.2-pro": "openai/gpt-5-2-pro",
        "gpt-5.2-chat-latest": "openai/gpt-5-2-chat-latest",
        "gpt-5-pro": "openai/gpt-5-pro",
    }.items():
        model = CATALOG.lookup(title)
        assert model is not None and model.id == model_id, title


def test_unknown_ids_stay_unknown() -> None:
    # No page spells `openai/gpt-5.2`, but the catalogue can point at the id it spells.
    for name in ("no-such/model", "openai/gpt-5.2", "anthropic/claude-ous-4-5"):
        assert CATALOG.lookup(name) is None and CATALOG.retired(name) is None
    assert CATALOG.suggest("openai/gpt-5.2") == "openai/gpt-5-2"
    assert CATALOG.suggest("OpenAI/GPT-5.2-PRO") == "openai/gpt-5-2-pro"
    assert CATALOG.suggest("no-such/model") is None


# --- against the reference: nothing a page documents is unknown ---------------------------

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "aimlapi-openapi").is_dir(), reason=f"reference material not found: {REFERENCE}"
)


@cache
def documenting() -> ModuleType:
    """scripts/catalog_documented.py (its sibling imports need scripts/ on sys.path)."""
    scripts = Path(__file__).resolve().parents[2] / "scripts"
    sys.path.insert(0, str(scripts))
    try:
        return importlib.import_module("catalog_documented")
    finally:
        sys.path.remove(str(scripts))


@needs_reference
def test_every_id_a_page_documents_resolves_or_is_retired() -> None:
    module = documenting()
    sources = importlib.import_module("catalog_sources")
    specs = sources.load_specs(REFERENCE / "aimlapi-openapi")
    pages = module.doc_page_lists(REFERENCE / "aimlapi-docs" / "api-references")
    documented = {e for s in specs for e in s.enum} | {i for p in pages if not p.hidden for i in p.ids}

    unknown = {
        name
        for name in documented - set(module.LEFT_OUT)
        if CATALOG.lookup(name) is None and CATALOG.retired(name) is None
    }

    assert unknown == set()
    assert len(documented) > 400  # the pages were read, not skipped


def test_the_sorter_follows_its_rules() -> None:
    module = documenting()
    sources = importlib.import_module("catalog_sources")

    def spec(rel: str, *enum: str, path: str = "/v1/chat/completions") -> Any:
        return sources.Spec(rel=rel, paths=[path], schema={}, enum=list(enum))

    specs = [
        spec("chat/old", "old-1", "old-latest"),  # a retired id and an alias the table misses
        spec("chat/old-vendor", "vendor/old-1", "vendor/old"),  # folds onto old-1; shares a page
        spec("video/new", "maker/clip-2.0", path="/v2/video/generations"),
        spec("chat/case", "Maker/Retired-Case"),  # a case variant of a retired id
    ]
    pages = [
        module.DocPage("a/current", "Current", ["vendor/current"], hidden=False),
        module.DocPage("a/draft", "Draft", ["maker/draft"], hidden=True),
    ]
    # Other `model` enums (a response's, a tool's) only ever add aliases.
    anywhere = {"maker/Current-Tool-Model": ["chat/x"], "stray-tool": ["chat/y"]}
    found = module.sort_documented(
        specs,
        pages,
        anywhere,
        {"maker/clip-2.0": ("Clip 2", "Maker", None)},
        {"current": "current", "current-tool-model": "current-tool-model"},
        ["old-1", "maker/retired-case"],
        lambda name: name.split("/", 1)[-1].lower().replace(".", "-"),
        lambda s: "video" if "video" in s.paths[0] else "chat-completion",
    )

    assert found.retired == {"old-latest": "old-1", "vendor/old-1": "old-1", "vendor/old": "old-1"}
    assert found.aliases == {"vendor/current": "current", "maker/Current-Tool-Model": "current-tool-model"}
    assert [(r.ids, r.type, r.name, r.developer) for r in found.new] == [
        (["maker/clip-2.0"], "video", "Clip 2", "Maker")
    ]
    assert set(found.left_out) == {"maker/draft", "stray-tool"}
