"""Which deployments serve a model: the config's routes, in order, resolved once per model."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from omnigate.catalog.loader import Model
from omnigate.errors import ApiError
from omnigate.providers.base import ChatBackend
from omnigate.settings import RouteSettings


@dataclass(frozen=True, slots=True)
class Deployment:
    backend: ChatBackend
    upstream_model: str

    @property
    def label(self) -> str:
        return f"{self.backend.name}:{self.upstream_model}"


class Router:
    def __init__(self, routes: list[RouteSettings], backends: dict[str, ChatBackend]) -> None:
        self._routes = routes
        self._backends = backends
        self._cache: dict[str, tuple[Deployment, ...]] = {}

    def deployments(self, model: Model) -> tuple[Deployment, ...]:
        found = self._cache.get(model.id)
        if found is None:
            found = tuple(
                Deployment(self._backends[r.provider], r.upstream_model or model.id)
                for r in self._routes
                if any(fnmatchcase(name, r.model) for name in model.names)
            )
            self._cache[model.id] = found
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
