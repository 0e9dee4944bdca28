"""SearXNG's weather answer (its `answer/weather.html` answers, from engines such as open-meteo
and wttr.in) in the shape of the weather follow-up route: the current weather, and the hourly
forecasts folded into days (high, low, the midday conditions)."""

from __future__ import annotations

from datetime import date
from typing import Any

WEATHER_TEMPLATE = "answer/weather.html"
UNIT_NAMES = {"°C": "Celsius", "°F": "Fahrenheit", "K": "Kelvin"}


def weather(answers: Any) -> dict[str, Any]:
    """The first weather answer as a `weather_result`; {} when there is none."""
    for answer in answers if isinstance(answers, list) else ():
        if not isinstance(answer, dict) or answer.get("template", WEATHER_TEMPLATE) != WEATHER_TEMPLATE:
            continue
        if isinstance(answer.get("current"), dict):
            return _result(answer["current"], answer.get("forecasts") or [])
    return {}


def _result(current: dict, forecasts: list) -> dict[str, Any]:
    temperature = current.get("temperature") or {}
    location = current.get("location") or {}
    when = _day(current) or _day(next((f for f in forecasts if isinstance(f, dict)), {}))
    return {
        "type": "weather_result",
        "temperature": _number(temperature.get("val")),
        "unit": UNIT_NAMES.get(str(temperature.get("unit")), str(temperature.get("unit") or "")),
        "precipitation": "",
        "humidity": _percent(current.get("humidity")),
        "wind": _measure(current.get("wind_speed")),
        "location": str(location.get("name") or "") if isinstance(location, dict) else str(location),
        "date": when.strftime("%A") if when else "",
        "weather": _condition(current),
        "thumbnail": "",
        "forecast": _days(forecasts),
    }


def _days(forecasts: list) -> list[dict[str, Any]]:
    days: dict[date, list[dict]] = {}
    for item in forecasts:
        if isinstance(item, dict) and (day := _day(item)) is not None:
            days.setdefault(day, []).append(item)
    out = []
    for day, items in days.items():
        values = [v for i in items if isinstance(v := (i.get("temperature") or {}).get("val"), int | float)]
        midday = min(items, key=lambda i: abs(_hour(i) - 12))
        out.append(
            {
                "day": day.strftime("%A"),
                "temperature": {
                    "high": _number(max(values)) if values else "",
                    "low": _number(min(values)) if values else "",
                },
                "thumbnail": "",
                "weather": _condition(midday),
                "humidity": _percent(midday.get("humidity")),
                "precipitation": "",
                "wind": _measure(midday.get("wind_speed")),
            }
        )
    return out


def _stamp(item: dict) -> str:
    """The item's time as ISO text: a DateTime struct ({"datetime": ...}) or the text itself."""
    value = item.get("datetime")
    if isinstance(value, dict):
        value = value.get("datetime")
    return value if isinstance(value, str) else ""


def _day(item: dict) -> date | None:
    try:
        return date.fromisoformat(_stamp(item)[:10])
    except ValueError:
        return None


def _hour(item: dict) -> int:
    stamp = _stamp(item)
    return int(stamp[11:13]) if len(stamp) >= 13 and stamp[11:13].isdigit() else 12


def _number(value: Any) -> str:
    return str(round(value)) if isinstance(value, int | float) else ""


def _percent(value: Any) -> str:
    found = value.get("val") if isinstance(value, dict) else value
    return f"{round(found)}%" if isinstance(found, int | float) else ""


def _measure(value: Any) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("val"), int | float):
        return ""
    return f"{round(value['val'])} {value.get('unit') or ''}".strip()


def _condition(item: dict) -> str:
    condition = item.get("condition")
    return condition.capitalize() if isinstance(condition, str) else ""
