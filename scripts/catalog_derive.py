"""What `build_catalog.py` derives from one model's OpenAPI page and price-map entry:
compact validation rules, endpoints, feature flags and list prices."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

DEFAULT_ENDPOINT = {
    "chat-completion": "/v1/chat/completions",
    "responses": "/v1/responses",
    "image": "/v1/images/generations",
    "video": "/v2/video/generations",
    "audio": "/v2/generate/audio",
    "tts": "/v1/tts",
    "stt": "/v1/stt/create",
    "embedding": "/v1/embeddings",
    "document": "/v1/ocr",
}
# Path fragment -> endpoint family (first match wins).
PATH_FAMILY = (
    ("chat/completions", "chat-completion"),
    ("/responses", "responses"),
    ("images/generations", "image"),
    ("video", "video"),
    ("generate/audio", "audio"),
    ("/tts", "tts"),
    ("/stt", "stt"),
    ("embeddings", "embedding"),
    ("/ocr", "document"),
)
# Schema keywords the validator understands; everything else (docs, examples) is dropped.
KEEP = {
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "items", "properties", "required",
    "anyOf", "oneOf", "allOf", "nullable", "default", "additionalProperties",
}  # fmt: skip
REASONING_PARAMS = ("reasoning_effort", "reasoning", "thinking", "enable_thinking")

# Price-map `mode`s that can describe a model of each type (guards against same-name clashes).
PRICE_MODES = {
    "chat-completion": {"chat", "responses", "completion", "moderation"},
    "responses": {"chat", "responses"},
    "image": {"image_generation", "image_edit"},
    "video": {"video_generation"},
    "tts": {"audio_speech"},
    "stt": {"audio_transcription"},
    "embedding": {"embedding"},
    "document": {"ocr"},
    "audio": set(),
}
PRICE_KEYS = (
    ("input_per_token", "input_cost_per_token"),
    ("output_per_token", "output_cost_per_token"),
    ("cached_input_per_token", "cache_read_input_token_cost"),
    ("reasoning_output_per_token", "output_cost_per_reasoning_token"),
    ("input_per_image", "input_cost_per_image"),
    ("output_per_image", "output_cost_per_image"),
    ("output_per_second", "output_cost_per_second"),
    ("input_per_character", "input_cost_per_character"),
    ("input_per_second", "input_cost_per_second"),
)
# Known provider-prefix spellings: our vendor prefix -> the price map's prefixes ("" = none).
PREFIX_SWAPS = {
    "openai": ("",),
    "anthropic": ("",),
    "deepseek": ("",),
    "x-ai": ("xai/",),
    "google": ("gemini/", ""),
    "mistralai": ("mistral/",),
    "mistral": ("",),
    "cohere": ("",),
    "moonshot": ("",),
    "perplexity": ("",),
    "alibaba": ("dashscope/",),
    "qwen": ("dashscope/",),
    "zhipu": ("zai/", "zhipu/"),
}
# Bare ids whose provider prefix in the price map is evident from the name.
BARE_PREFIXES = (
    ("gemini-", "gemini/"),
    ("deepseek-", "deepseek/"),
    ("qwen", "dashscope/"),
    ("glm-", "zai/"),
    ("claude-", "anthropic/"),
    ("voyage-", "voyage/"),
)


def family(path: str) -> str:
    return next((fam for frag, fam in PATH_FAMILY if frag in path), "other")


# --- rules -------------------------------------------------------------------------------


def compact(schema: Any, top: bool = False) -> Any:
    """The validation-relevant subset of a schema; the top level loses its `model` property
    (the router has already resolved it) but keeps "model" in `required`."""
    if isinstance(schema, list):
        return [compact(x, top) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in KEEP:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {n: compact(s) for n, s in value.items() if not (top and n == "model")}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf"):
            out[key] = compact(value)
        elif key == "allOf":  # branches of the body itself may declare `model` too
            out[key] = compact(value, top)
        else:
            out[key] = value
    return out


def fix_responses_input(schema: dict[str, Any]) -> dict[str, Any]:
    """The portal's Responses schemas list the input *items* as alternatives of `input` but
    forget the array around them; the API (and every SDK) sends a string or a list of items."""
    inp = schema.get("properties", {}).get("input")
    if not isinstance(inp, dict) or "anyOf" not in inp:
        return schema
    branches = inp["anyOf"]
    if any(b.get("type") == "array" for b in branches):
        return schema
    items = [b for b in branches if b.get("type") != "string"]
    strings = [b for b in branches if b.get("type") == "string"]
    fixed = {**inp, "anyOf": [*strings, {"type": "array", "items": {"anyOf": items}}]}
    return {**schema, "properties": {**schema["properties"], "input": fixed}}


def fix_assistant_content(schema: dict[str, Any]) -> dict[str, Any]:
    """An assistant message that carries `tool_calls` has `content: null` in OpenAI's wire format
    (its spec marks it nullable and the SDKs send it back so); the portal pages leave `content`
    optional but forget `nullable`, which would reject every tool-calling conversation."""
    items = schema.get("properties", {}).get("messages", {}).get("items")
    if not isinstance(items, dict):
        return schema
    for branch in items.get("oneOf", items.get("anyOf", [items])):
        props = branch.get("properties", {})
        optional = "content" in props and "content" not in branch.get("required", [])
        if optional and "assistant" in props.get("role", {}).get("enum", []):
            props["content"] = {**props["content"], "nullable": True}
    return schema


def rule_key(schema: dict[str, Any] | None, rule_sets: dict[str, Any]) -> str | None:
    """Store a compact schema once, keyed by a sha1 prefix of its canonical JSON."""
    if schema is None:
        return None
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha1(canonical.encode()).hexdigest()[:12]
    rule_sets.setdefault(key, schema)
    return key


def endpoints(paths: list[str]) -> list[str]:
    """POST paths in their versioned form; an un-versioned twin of a versioned path is dropped."""
    versioned = [p for p in paths if re.match(r"^/v\d+/", p)]
    out: list[str] = []
    for path in paths:
        if not re.match(r"^/v\d+/", path):
            if any(v.endswith(path) for v in versioned):
                continue
            path = "/v1" + path
        if path not in out:
            out.append(path)
    return out


def features(schema: dict[str, Any] | None, responses_only: bool, has_responses: bool) -> list[str]:
    """`/models` feature flags of a chat (or Responses-only) model, read off its rules."""
    base = "openai/response-api" if responses_only else "openai/chat-completion"
    out = [base]
    if has_responses and not responses_only:
        out.append("openai/response-api")
    if schema is None:
        return out
    props: dict[str, Any] = dict(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        props.update(branch.get("properties", {}))
    roles: dict[str, Any] = {}
    items = props.get("messages", {}).get("items", {})
    for branch in items.get("oneOf", items.get("anyOf", [items])):
        for role in branch.get("properties", {}).get("role", {}).get("enum", []):
            roles.setdefault(role, branch)
    checks = (
        ("function", "tools" in props),
        ("vision", '"image_url"' in json.dumps(roles.get("user", {}))),
        ("stream", "stream" in props),
        ("reasoning", any(k in props for k in REASONING_PARAMS)),
        ("response-format", "response_format" in props),
        ("stop", "stop" in props),
        ("seed", "seed" in props),
        ("max-completion-tokens", "max_completion_tokens" in props),
        ("parallel-tool-calls", "parallel_tool_calls" in props),
        ("message.system", "system" in roles),
        ("message.developer", "developer" in roles),
        ("message.assistant", "assistant" in roles),
    )
    return out + [f"{base}.{name}" for name, ok in checks if ok]


# --- prices ------------------------------------------------------------------------------


def price_candidates(name: str) -> list[str]:
    vendor, sep, rest = name.partition("/")
    if not sep:
        return [p + name for pre, p in BARE_PREFIXES if name.startswith(pre)]
    found = [p + rest for p in PREFIX_SWAPS.get(vendor.lower(), ())]
    return [*found, "together_ai/" + name]  # Together lists org/model ids verbatim


def find_price(names: list[str], model_type: str, prices: dict[str, Any]) -> str | None:
    """The price-map key for a model: the id, then an alias, then the id and the aliases with a
    known provider prefix swapped. Never anything fuzzier: a wrong price is worse than none."""
    modes = PRICE_MODES[model_type]
    tiers = [names[:1], names[1:], price_candidates(names[0])]
    tiers.append([c for n in names[1:] for c in price_candidates(n)])
    for tier in tiers:
        hits = [k for k in tier if k in prices and prices[k].get("mode") in modes]
        if hits:
            return hits[0]
    return None


def price_of(entry: dict[str, Any]) -> dict[str, float] | None:
    out = {ours: float(entry[key]) for ours, key in PRICE_KEYS if entry.get(key) is not None}
    return out or None


def as_int(value: Any) -> int | None:
    # The price map writes some token limits as floats (2000000.0).
    return int(value) if isinstance(value, int | float) and value == int(value) else None
