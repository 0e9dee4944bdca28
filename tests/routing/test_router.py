"""Which deployments the router finds for a model."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from omnigate.catalog.loader import Catalog
from omnigate.errors import ApiError
from omnigate.routing.health import DeploymentHealth
from omnigate.routing.router import Router
from omnigate.settings import RouteSettings

CATALOG = Catalog.load()


@dataclass
class Backend:
    name: str
    embeds: bool
    local: bool = False
    speaks_responses: bool = False
    serves_chat: bool = True
    media_families: frozenset[str] = frozenset()
    task_families: frozenset[str] = frozenset()


def router(*routes: tuple[str, str], backends: dict[str, Backend]) -> Router:
    settings = [RouteSettings(model=model, provider=provider) for model, provider in routes]
    return Router(settings, backends, DeploymentHealth(failures_to_cool=3, cooldown_s=30))  # type: ignore[arg-type]


def test_embedding_models_skip_backends_that_cannot_embed() -> None:
    backends = {"claude": Backend("claude", embeds=False), "vllm": Backend("vllm", embeds=True)}
    both = router(("*", "claude"), ("*", "vllm"), backends=backends)
    embedding = CATALOG.lookup("text-embedding-3-small")
    chat = CATALOG.lookup("gpt-4o")
    assert embedding is not None and chat is not None
    assert [d.backend.name for d in both.deployments(embedding)] == ["vllm"]
    assert [d.backend.name for d in both.deployments(chat)] == ["claude", "vllm"]
    chat_only = router(("*", "claude"), backends=backends)
    with pytest.raises(ApiError) as raised:
        chat_only.plan(embedding, 3)
    assert raised.value.status == 503 and raised.value.code == "model_not_configured"


def test_a_catch_all_route_sends_a_model_only_to_backends_that_serve_its_family() -> None:
    backends = {"img": Backend("img", embeds=False, serves_chat=False, media_families=frozenset({"image"}))}
    catch_all = router(("*", "img"), backends=backends)
    assert catch_all.deployments(CATALOG.lookup("flux/schnell"))
    assert not catch_all.deployments(CATALOG.lookup("gpt-4o"))
    assert not catch_all.deployments(CATALOG.lookup("openai/tts-1"))  # nor a family it does not serve
