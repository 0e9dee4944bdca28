"""Provider presets (providers/data/presets.json) and how a catalogue id becomes a provider's name."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from omnigate.catalog.loader import Model

PRESETS_FILE = Path(__file__).with_name("data") / "presets.json"
_DATED = re.compile(r"-\d{8}$")
# The catalogue tags the models it serves through Deepgram ("#g1_aura-asteria-en").
_TAG = re.compile(r"^#\w+?_")


@cache
def presets() -> dict[str, dict[str, Any]]:
    data = json.loads(PRESETS_FILE.read_text())
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


def upstream_name(model: Model, rule: str, models: dict[str, str]) -> str:
    """The name a provider knows a catalogue model by."""
    if model.id in models:
        return models[model.id]
    if rule == "as_is":
        return model.id
    if rule == "untagged":
        return _TAG.sub("", model.id, count=1)
    if rule == "dated":
        dated = [n for n in model.names if "/" not in n and _DATED.search(n)]
        if dated:
            return dated[0]
    bare = [n for n in model.names if "/" not in n]
    return bare[0] if bare else model.id.split("/", 1)[1]
