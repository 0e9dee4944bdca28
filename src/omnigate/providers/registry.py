"""Provider kinds (wire protocols) and the class that speaks each one.

Classes are imported only when a config names their kind, so an unused adapter costs nothing at
start-up. Every class takes the same constructor arguments and offers start()/close() plus the
ChatBackend methods (providers/base.py).
"""

from __future__ import annotations

import importlib
from typing import Any

from omnigate.settings import ConfigError, ProviderSettings, RoutingSettings

KINDS = {
    "openai": "omnigate.providers.openai_compat.client:OpenAICompatProvider",
    "anthropic": "omnigate.providers.anthropic.client:AnthropicProvider",
    "gemini": "omnigate.providers.gemini.client:GeminiProvider",
    "cohere": "omnigate.providers.cohere.client:CohereProvider",
    "deepgram": "omnigate.providers.deepgram.client:DeepgramProvider",
    "aimlapi": "omnigate.providers.aimlapi.client:AimlapiProvider",
    "fal": "omnigate.providers.fal.client:FalProvider",
}


def build_provider(spec: ProviderSettings, routing: RoutingSettings, api_key: str | None) -> Any:
    module, _, cls = KINDS[spec.kind].partition(":")
    try:
        provider_class = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"[providers.{spec.name}] kind {spec.kind!r} is not available: {exc}") from exc
    options: dict[str, Any] = {}
    if spec.kind == "openai":
        options["quirks"] = spec.quirks
        options["responses"] = spec.responses
    if spec.kind == "aimlapi":
        options["markup"] = spec.markup
        options["reserve_credits"] = spec.reserve_credits
    return provider_class(
        spec.name,
        spec.base_url,
        api_key=api_key,
        headers=spec.headers,
        connect_timeout_s=routing.connect_timeout_s,
        read_timeout_s=routing.read_timeout_s,
        **options,
    )
