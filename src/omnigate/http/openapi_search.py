"""The answers of the AI search's follow-up routes (GET /v1/bagoodex/*) for the OpenAPI document,
as the service documents them; each is `[]` or `{}` when nothing of its kind was found."""

from __future__ import annotations

from omnigate.http.openapi_requests import Schema, obj

_TEXT: Schema = {"type": "string"}
_MAYBE_TEXT: Schema = {"type": "string", "nullable": True}
_FORECAST_DAY = obj(
    {
        "day": _TEXT,
        "temperature": obj({"high": _TEXT, "low": _TEXT}),
        "thumbnail": _TEXT,
        "weather": _TEXT,
        "humidity": _TEXT,
        "precipitation": _TEXT,
        "wind": _TEXT,
    }
)

SEARCH_COMPONENTS: dict[str, Schema] = {
    "SearchLinks": {"type": "array", "items": _TEXT},
    "SearchImages": {
        "type": "array",
        "items": obj({"source": _TEXT, "original": _TEXT, "title": _TEXT, "source_name": _TEXT}),
    },
    "SearchVideos": {"type": "array", "items": obj({"link": _TEXT, "thumbnail": _TEXT, "title": _TEXT})},
    "SearchWeather": obj(
        {
            "type": {"type": "string", "enum": ["weather_result"]},
            **{
                name: _TEXT
                for name in (
                    "temperature",
                    "unit",
                    "precipitation",
                    "humidity",
                    "wind",
                    "location",
                    "date",
                    "weather",
                    "thumbnail",
                )
            },
            "forecast": {"type": "array", "items": _FORECAST_DAY},
        }
    ),
    "SearchLocalMap": obj(
        {
            "link": _TEXT,
            "image": _TEXT,
            "gps_coordinates": obj({"latitude": {"type": "number"}, "longitude": {"type": "number"}}),
        }
    ),
    "SearchKnowledge": obj(
        {
            "title": _TEXT,
            "type": _MAYBE_TEXT,
            "description": _MAYBE_TEXT,
            "born": _MAYBE_TEXT,
            "died": _MAYBE_TEXT,
        }
    ),
}

# Each follow-up route and the component of its answer.
SEARCH_ANSWERS = {
    "links": ("Links the search found", "SearchLinks"),
    "images": ("Images the search found", "SearchImages"),
    "videos": ("Videos the search found", "SearchVideos"),
    "weather": ("The weather the search found", "SearchWeather"),
    "local-map": ("The place the search found on a map", "SearchLocalMap"),
    "knowledge": ("What the search knows of its subject", "SearchKnowledge"),
}
