"""Which deployments serve a model: the config's routes, in order, resolved once per model."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from omnigate.catalog.loader import Model
from omnigate.errors import ApiError
from omnigate.providers.base import ChatBackend
from omnigate.routing.health import DeploymentHealth
from omnigate.settings import RouteSettings


@dataclass(frozen=True, slots=True)
class Deployment:
    backend: ChatBackend
    upstream_model: str
    label: str  # "provider:upstream-model", for logs and health


class Router:
    def __init__(
        self, routes: list[RouteSettings], backends: dict[str, ChatBackend], health: DeploymentHealth
    ) -> None:
        self._routes = routes
        self._backends = backends
        self._cache: dict[str, tuple[Deployment, ...]] = {}
        self.health = health

    @property
    def route_count(self) -> int:
        """Routes in the config, the built-in engines' included."""
        return len(self._routes)

    def deployments(self, model: Model) -> tuple[Deployment, ...]:
        found = self._cache.get(model.id)
        if found is None:
            matched = []
            for route in self._routes:
                backend = self._backends[route.provider]
                if not _serves(backend, model.type):
                    continue  # e.g. a catch-all route to a chat-only protocol cannot serve embeddings
                if any(fnmatchcase(name, route.model) for name in model.names):
                    upstream = route.upstream_model or model.id
                    matched.append(Deployment(backend, upstream, f"{route.provider}:{upstream}"))
            found = self._cache[model.id] = tuple(matched)
        return found

    def require(self, model: Model) -> tuple[Deployment, ...]:
        found = self.deployments(model)
        if not found:
            raise ApiError(
                503,
                f"Service unavailable: no upstream is configured for model {model.id!r} "
                f"(developer: {model.developer or 'unknown'}). Add a [providers.<name>] table and a "
                f'[[routes]] entry with model = "{model.id}" to the config file.',
                code="model_not_configured",
            )
        return found

    def plan(self, model: Model, attempts: int, media: str | None = None) -> list[Deployment]:
        """The order to try deployments in: those not cooling down, in config order, repeated
        until `attempts` (all of them when every one is cooling down: better a try than a 503).
        `media` narrows them to backends that serve that media or task family (image edits,
        say, or speech to text as a task)."""
        found = self.require(model)
        if media is not None:
            found = tuple(
                d for d in found if media in d.backend.media_families or media in d.backend.task_families
            )
            if not found:
                raise ApiError(
                    503,
                    f"Service unavailable: no upstream configured for model {model.id!r} serves {media}.",
                    code="model_not_configured",
                )
        ready = [d for d in found if self.health.available(d.label)] or list(found)
        return (ready * attempts)[:attempts]


# The media family each media model type needs its backend to serve (providers/media.py).
MEDIA_FAMILY_OF_TYPE = {"image": "image", "tts": "tts", "stt": "stt", "document": "ocr"}
# The task family of each asynchronous model type (providers/tasks.py); speech to text is both.
TASK_FAMILY_OF_TYPE = {"video": "video", "audio": "music", "stt": "stt"}


def _serves(backend: ChatBackend, model_type: str) -> bool:
    if model_type in ("chat-completion", "responses"):
        return backend.serves_chat
    if model_type == "embedding":
        return backend.embeds
    family = MEDIA_FAMILY_OF_TYPE.get(model_type)
    task = TASK_FAMILY_OF_TYPE.get(model_type)
    if family is not None or task is not None:
        return family in backend.media_families or task in backend.task_families
    return True
