"""The committed catalogue (src/omnigate/catalog/data/catalog.json) against its sources.

The data file is read with `json` directly; tests that need the reference material in
../shared skip when it is not there.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from omnigate.catalog.rules import RuleViolation, compile_rules

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "src" / "omnigate" / "catalog" / "data" / "catalog.json"
SHARED = REPO.parent / "shared"
NOTES = SHARED / "spec" / "notes" / "model-catalogue.md"
OPENAPI = SHARED / "reference" / "aimlapi-openapi"
DOCS_BASE = "https://docs.aimlapi.com/api-references/"
TYPES = {"chat-completion", "responses", "image", "video", "audio", "tts", "stt", "embedding", "document"}
PRICE_FIELDS = {
    "input_per_token", "output_per_token", "cached_input_per_token", "reasoning_output_per_token",
    "input_per_image", "output_per_image", "output_per_second", "input_per_character",
    "input_per_second",
}  # fmt: skip

needs_notes = pytest.mark.skipif(not NOTES.exists(), reason=f"reference notes not found: {NOTES}")
needs_openapi = pytest.mark.skipif(
    not OPENAPI.is_dir(), reason=f"reference OpenAPI files not found: {OPENAPI}"
)


@cache
def catalog() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


@cache
def by_name() -> dict[str, dict[str, Any]]:
    return {name: m for m in catalog()["models"] for name in (m["id"], *m["aliases"])}


@cache
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_catalog", REPO / "scripts" / "build_catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model(model_id: str) -> dict[str, Any]:
    return next(m for m in catalog()["models"] if m["id"] == model_id)


def validator(m: dict[str, Any]) -> Any:
    return compile_rules(catalog()["rule_sets"][m["rules"]] if m["rules"] else None)


# --- the data file on its own -----------------------------------------------------------


def test_shape() -> None:
    data = catalog()
    assert data["version"] == 1 and data["generated_by"] == "scripts/build_catalog.py"
    assert len(data["models"]) == 386
    assert DATA.stat().st_size < 3_000_000
    for m in data["models"]:
        assert m["type"] in TYPES, m["id"]
        assert m["name"] and m["endpoints"], m["id"]
        for key in ("rules", "responses_rules"):
            assert m[key] is None or m[key] in data["rule_sets"], m["id"]
        if m["type"] in ("chat-completion", "responses"):
            assert m["features"], m["id"]
        else:
            assert m["features"] == [], m["id"]
        assert m["price"] is None or m["price_source"], m["id"]
        assert set(m["price"] or {}) <= PRICE_FIELDS, m["id"]
        assert m["docs_url"] == "" or m["docs_url"].startswith(DOCS_BASE)
    for schema in data["rule_sets"].values():
        assert "model" not in schema.get("properties", {})  # the router resolves `model`


def test_names_are_unique_and_never_deprecated() -> None:
    data = catalog()
    names = [n for m in data["models"] for n in (m["id"], *m["aliases"])]
    assert len(names) == len(set(names))
    retired = [n for d in data["deprecated"] for n in (d["id"], *d["aliases"])]
    assert len(retired) == len(set(retired))
    assert not set(names) & set(retired)


def test_every_chat_model_accepts_a_plain_conversation() -> None:
    for m in catalog()["models"]:
        if m["type"] != "chat-completion":
            continue
        messages = [{"role": "user", "content": "Hello"}]
        if "openai/chat-completion.message.system" in m["features"]:
            messages.insert(0, {"role": "system", "content": "Be brief."})
        if "openai/chat-completion.message.assistant" in m["features"]:
            messages += [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "?"}]
        validator(m)({"model": m["id"], "messages": messages, "stream": False})


def test_responses_rules_accept_string_and_list_input() -> None:
    rule_sets = catalog()["rule_sets"]
    for m in catalog()["models"]:
        if m["responses_rules"] is None:
            continue
        validate = compile_rules(rule_sets[m["responses_rules"]])
        validate({"model": m["id"], "input": "Hello"})
        validate({"model": m["id"], "input": [{"role": "user", "content": "Hello"}]})


def test_role_restriction_comes_from_the_data() -> None:
    m = model("google/gemma-3-4b-it")
    assert "openai/chat-completion.message.developer" not in m["features"]
    body = {"model": m["id"], "messages": [{"role": "developer", "content": "x"}]}
    with pytest.raises(RuleViolation) as caught:
        validator(m)(body)
    assert caught.value.message == (
        "Unsupported value: 'messages[0].role' does not support 'developer' with this model."
    )


# --- against model-catalogue.md ---------------------------------------------------------


@needs_notes
def test_every_catalogue_id_resolves_once() -> None:
    active, deprecated = script().parse_catalogue(NOTES.read_text(encoding="utf-8"))
    assert (len(active), len(deprecated)) == (370, 124)
    names = by_name()
    counts: dict[str, int] = {}
    for m in catalog()["models"]:
        for n in (m["id"], *m["aliases"]):
            counts[n] = counts.get(n, 0) + 1
    for row in active:
        if not row.ids:  # Google OCR: "The service has no Model ID"
            continue
        assert names[row.ids[0]]["id"] == row.ids[0]
        for name in row.ids:
            assert counts.get(name) == 1, name
            assert names[name] is names[row.ids[0]], name
    retired = {n for d in catalog()["deprecated"] for n in (d["id"], *d["aliases"])}
    for row in deprecated:
        for name in row.ids:
            assert name in retired and name not in names, name


# --- rules against their OpenAPI pages --------------------------------------------------

SAMPLES = [
    ("minimax/m1", "temperature"),  # maximum 1
    ("gpt-4o", "top_p"),  # minimum 0.01
    ("dall-e-3", "quality"),
    ("flux/schnell", "num_images"),
    ("google/veo3", "aspect_ratio"),
    ("openai/tts-1", "speed"),
    ("openai/tts-1", "voice"),
    ("text-embedding-3-large", "encoding_format"),
    ("google/gc-document-ai", "mimeType"),
    ("openai/gpt-5-1-codex", "truncation"),
    ("elevenlabs/eleven_music", "music_length_ms"),
    ("triposr", "foreground_ratio"),
]


def _page_property(m: dict[str, Any], name: str) -> dict[str, Any]:
    page = json.loads((OPENAPI / (m["docs_url"].removeprefix(DOCS_BASE) + ".json")).read_text())
    op = next(item["post"] for item in page["paths"].values() if "post" in item)
    return op["requestBody"]["content"]["application/json"]["schema"]["properties"][name]


def _filler(name: str, schema: dict[str, Any]) -> Any:
    if name == "messages":
        return [{"role": "user", "content": "Hello"}]
    if schema.get("enum"):
        return schema["enum"][0]
    if "anyOf" in schema:
        return _filler(name, schema["anyOf"][0])
    kind = schema.get("type")
    if kind in ("number", "integer"):
        return schema.get("minimum", 1)
    return {"boolean": True, "array": [], "object": {}}.get(kind, "x")


def _minimal_body(m: dict[str, Any]) -> dict[str, Any]:
    schema = catalog()["rule_sets"][m["rules"]]
    body: dict[str, Any] = {"model": m["id"]}
    for name in schema.get("required", []):
        if name != "model":
            body[name] = _filler(name, schema["properties"][name])
    validator(m)(body)
    return body


@needs_openapi
@pytest.mark.parametrize(("model_id", "param"), SAMPLES)
def test_rules_follow_the_openapi_page(model_id: str, param: str) -> None:
    m = model(model_id)
    page = _page_property(m, param)
    validate = validator(m)
    body = _minimal_body(m)
    good: list[Any] = []
    bad: list[Any] = []
    if "enum" in page:
        good += page["enum"]
        bad.append("not-a-listed-value" if isinstance(page["enum"][0], str) else -12345)
    if "minimum" in page:
        good.append(page["minimum"])
        bad.append(page["minimum"] - 0.005)
    if "maximum" in page:
        good.append(page["maximum"])
        bad.append(page["maximum"] + 0.5)
    assert good and bad, f"{model_id}: {param} has no bound or enum in its page"
    for value in good:
        validate({**body, param: value})
    for value in bad:
        with pytest.raises(RuleViolation) as caught:
            validate({**body, param: value})
        assert caught.value.param == param


def test_brief_examples() -> None:
    m1, gpt = model("minimax/m1"), model("gpt-4o")
    messages = [{"role": "user", "content": "Hello"}]
    validator(m1)({"model": m1["id"], "messages": messages, "temperature": 0.5})
    with pytest.raises(RuleViolation) as caught:
        validator(m1)({"model": m1["id"], "messages": messages, "temperature": 1.5})
    assert caught.value.message == (
        "Body validation error! temperature: Number must be less than or equal to 1, received 1.5"
    )
    with pytest.raises(RuleViolation) as caught:
        validator(gpt)({"model": "gpt-4o", "messages": messages, "top_p": 0})
    assert caught.value.detail == "Number must be greater than or equal to 0.01, received 0"


# --- the committed file is what the script generates --------------------------------------


@pytest.mark.skipif(
    not (SHARED / "reference").is_dir(), reason=f"reference material not found: {SHARED}/reference"
)
def test_committed_file_is_up_to_date() -> None:
    build = script()
    text = build.render(build.build(SHARED))
    assert text == DATA.read_text(encoding="utf-8"), "re-run scripts/build_catalog.py"
