"""A SearXNG instance as the search backend: its JSON API (`GET /search?q=...&format=json`, the
instance's settings.yml must list `json` under search.formats), asked three times at once: the
general results (links, the answer's snippets, infoboxes, map results), and the images and videos
categories."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.search.results import Found, SearchResults
from omnigate.search.searxng_weather import weather


class SearXNGSearch:
    def __init__(self, base_url: str, *, max_results: int, timeout_s: float) -> None:
        self.name = "searxng"
        self.base_url = base_url.rstrip("/")
        self.max_results = max_results
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def search(self, query: str, messages: list[dict], *, account_id: int) -> Found:
        general, images, videos = await asyncio.gather(
            self._get(query, None), self._get(query, "images"), self._get(query, "videos")
        )
        return Found(results(general, images, videos, self.max_results))

    async def _get(self, query: str, category: str | None) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("SearXNGSearch.start() was not called")
        params = {"q": query, "format": "json"}
        if category:
            params["categories"] = category
        try:
            async with self._session.get(f"{self.base_url}/search", params=params) as response:
                if response.status == 403:
                    # What SearXNG answers when its settings.yml leaves json out of search.formats.
                    raise _failure(
                        "refused the JSON format (403): its settings.yml must list json under search.formats",
                        retryable=False,
                    )
                if response.status != 200:
                    raise _failure(f"answered HTTP {response.status}", retryable=response.status >= 500)
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _failure(f"could not be read ({type(exc).__name__})", retryable=True) from exc
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise _failure("answered without a results list", retryable=False)
        return data


def _failure(why: str, *, retryable: bool) -> UpstreamFailure:
    error = ApiError(502, f"Bad Gateway: the SearXNG search backend {why}.", code="upstream_error")
    return UpstreamFailure(error, retryable=retryable)


def results(general: dict, images: dict, videos: dict, limit: int) -> SearchResults:
    """SearXNG's three answers in the follow-up routes' shapes."""
    found = SearchResults()
    for item in _items(general):
        url = _text(item.get("url"))
        if "latitude" in item and "longitude" in item and not found.local_map:
            found.local_map = _local_map(item)
        if url and url not in found.links and len(found.links) < limit:
            found.links.append(url)
            found.snippets.append(
                {"title": _text(item.get("title")), "url": url, "content": _text(item.get("content"))}
            )
    for item in _items(images):
        original = _text(item.get("img_src"))
        if original and len(found.images) < limit:
            page = _text(item.get("url"))
            found.images.append(
                {
                    "source": page,
                    "original": original,
                    "title": _text(item.get("title")),
                    "source_name": _text(item.get("source")) or urlsplit(page).hostname or "",
                }
            )
    for item in _items(videos):
        link = _text(item.get("url"))
        if link and len(found.videos) < limit:
            thumbnail = _text(item.get("thumbnail")) or _text(item.get("img_src"))
            found.videos.append({"link": link, "thumbnail": thumbnail, "title": _text(item.get("title"))})
    found.weather = weather(general.get("answers"))
    found.answers = [text for answer in general.get("answers") or () if (text := _answer_text(answer))]
    infoboxes = general.get("infoboxes")
    if isinstance(infoboxes, list) and infoboxes and isinstance(infoboxes[0], dict):
        found.knowledge = _knowledge(infoboxes[0])
    return found


def _answer_text(answer: Any) -> str:
    """A direct answer's text: older SearXNG sends strings, newer ones {answer, url, ...}."""
    if isinstance(answer, str):
        return answer
    return _text(answer.get("answer")) if isinstance(answer, dict) else ""


def _items(answer: dict) -> list[dict]:
    return [item for item in answer.get("results") or () if isinstance(item, dict)]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _local_map(item: dict) -> dict[str, Any]:
    """A result of SearXNG's map template (OpenStreetMap, Photon): a place with coordinates."""
    try:
        latitude, longitude = float(item["latitude"]), float(item["longitude"])
    except (TypeError, ValueError):
        return {}
    return {
        "link": _text(item.get("url")),
        "image": _text(item.get("img_src")) or _text(item.get("thumbnail")),
        "gps_coordinates": {"latitude": latitude, "longitude": longitude},
    }


def _knowledge(infobox: dict) -> dict[str, Any]:
    """An infobox (Wikipedia, Wikidata): its title and text, and the attributes that say what it
    is and, for a person, when they were born and died."""
    attributes: dict[str, str] = {}
    for attribute in infobox.get("attributes") or ():
        if isinstance(attribute, dict):
            label = _text(attribute.get("label")).lower()
            attributes.setdefault(label, _text(attribute.get("value")))

    def first(*labels: str) -> str | None:
        return next((attributes[label] for label in labels if attributes.get(label)), None)

    return {
        "title": _text(infobox.get("infobox")),
        "type": first("instance of", "occupation", "type"),
        "description": _text(infobox.get("content")) or None,
        "born": first("date of birth", "born", "birth"),
        "died": first("date of death", "died", "death"),
    }
