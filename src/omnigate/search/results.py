"""What one search found, in the shapes the follow-up routes answer (GET /v1/bagoodex/*), and the
protocol every search backend implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# The follow-up routes, each with the key of SearchResults it answers and its empty answer.
KINDS: dict[str, str] = {
    "links": "links",
    "images": "images",
    "videos": "videos",
    "weather": "weather",
    "local-map": "local_map",
    "knowledge": "knowledge",
}


@dataclass(slots=True)
class SearchResults:
    """Lists answer `[]` and objects `{}` when nothing of their kind was found (as the service)."""

    links: list[str] = field(default_factory=list)
    # {source, original, title, source_name}
    images: list[dict[str, str]] = field(default_factory=list)
    # {link, thumbnail, title}
    videos: list[dict[str, str]] = field(default_factory=list)
    # {type: "weather_result", temperature, unit, ..., forecast: [...]}
    weather: dict[str, Any] = field(default_factory=dict)
    # {link, image, gps_coordinates: {latitude, longitude}}
    local_map: dict[str, Any] = field(default_factory=dict)
    # {title, type, description, born, died}
    knowledge: dict[str, Any] = field(default_factory=dict)
    # Snippets the answer is composed from: {title, url, content}; kept with the results.
    snippets: list[dict[str, str]] = field(default_factory=list)
    # Direct answers the engine gave (a calculation, a definition): they open the answer.
    answers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResults:
        known = {name: data[name] for name in cls.__slots__ if name in data}  # type: ignore[attr-defined]
        return cls(**known)


@dataclass(slots=True)
class Found:
    results: SearchResults
    # The backend's own answer (a chat model that searched); None: composed from the results.
    answer: str | None = None
    # The tokens that answer used, as the chat model reported them; None: counted from the text.
    usage: dict[str, int] | None = None


class SearchBackend(Protocol):
    """A search engine the search model asks. `messages` is the conversation (roles user and
    assistant); `query` its last user message; `account_id` the account asking (for backends that
    share themselves fairly). Failures raise providers.base.UpstreamFailure."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def search(self, query: str, messages: list[dict], *, account_id: int) -> Found: ...
