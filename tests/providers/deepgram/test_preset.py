"""The `deepgram` preset: catalogue ids → Deepgram's names, and the models it routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnigate.catalog.loader import Catalog
from omnigate.gateway import developer_routes
from omnigate.providers.deepgram.client import DeepgramProvider
from omnigate.providers.presets import presets, upstream_name
from omnigate.providers.registry import build_provider
from omnigate.settings import load_settings
from tests.providers.deepgram.fidelity import SPEAK_MODELS

CATALOG = Catalog.load()
PRESET = presets()["deepgram"]


def name_for(model_id: str) -> str:
    model = CATALOG.lookup(model_id)
    assert model is not None, model_id
    return upstream_name(model, PRESET["names"], PRESET.get("models", {}))


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("#g1_aura-asteria-en", "aura-asteria-en"),
        ("#g1_aura-2-helena-en", "aura-2-helena-en"),
        ("#g1_aura-2-celeste-es", "aura-2-celeste-es"),
        ("#g1_nova-2-general", "nova-2-general"),
        ("#g1_whisper-base", "whisper-base"),
    ],
)
def test_catalogue_ids_become_deepgrams_names(model_id: str, name: str) -> None:
    assert name_for(model_id) == name


def test_every_catalogue_voice_is_one_deepgram_serves() -> None:
    voices = [m for m in CATALOG.models if m.id.startswith("#g1_aura")]
    assert len(voices) > 50
    assert {name_for(m.id) for m in voices} <= SPEAK_MODELS


def test_the_preset_routes_deepgrams_speech_models_to_a_deepgram_backend(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[providers.dg]\npreset = "deepgram"\napi_key = "dg-test-3f9a1c7e5b20"\n')
    settings = load_settings(config)
    spec = settings.providers["dg"]
    assert (spec.kind, spec.base_url, spec.api_key_env) == (
        "deepgram",
        "https://api.deepgram.com",
        "DEEPGRAM_API_KEY",
    )
    backend = build_provider(spec, settings.routing, spec.resolve_api_key())
    assert isinstance(backend, DeepgramProvider)
    routes = developer_routes(CATALOG, settings, {"dg": backend})
    # Deepgram's own models, and the Whisper models it hosts (listed under OpenAI, whose other
    # speech models it does not serve).
    expected = {m.id for m in CATALOG.models if m.developer == "Deepgram" or m.id.startswith("#g1_whisper-")}
    assert not {"openai/tts-1", "openai/tts-1-hd"} & {r.model for r in routes}
    assert {r.model for r in routes} == expected
    assert {m.type for m in CATALOG.models if m.id in expected} == {"tts", "stt"}
    assert all(r.upstream_model == r.model.removeprefix("#g1_") for r in routes)
