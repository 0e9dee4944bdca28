"""OpenAI's published schemas for the Assistants objects and stream events, as a validator.

They come from OpenAI's OpenAPI spec through scripts/build_assistant_schemas.py. These schemas
still say `nullable: true` (OpenAPI 3.0) where the Responses ones say `type: [..., "null"]`, so
they are rewritten to JSON Schema's spelling before use; nothing else is changed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tests.responses.openapi_spec import Spec

SCHEMAS_PATH = Path(__file__).with_name("data") / "openai_assistant_schemas.json"


def json_schema(node: Any) -> Any:
    """`nullable: true` as JSON Schema says it (a null is allowed besides the node's schema)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: json_schema(value) for key, value in node.items()}
    parts = node.get("allOf")
    if isinstance(parts, list) and {"nullable": True} in parts:
        rest = [p for p in parts if p != {"nullable": True}]
        node.pop("allOf")
        return {**node, "anyOf": [{"allOf": rest}, {"type": "null"}]}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


class AssistantSpec(Spec):
    def _event_schemas(self) -> dict[str, str]:
        # Each member of a stream-event union names its event in an `event` enum.
        out: dict[str, str] = {}
        for group in self.schemas["AssistantStreamEvent"]["oneOf"]:
            name = group["$ref"].rsplit("/", 1)[-1]
            members = self.schemas[name].get("oneOf")
            for index, member in enumerate(members or [self.schemas[name]]):
                path = f"{name}/oneOf/{index}" if members else name
                for value in member["properties"]["event"]["enum"]:
                    out[value] = path
        return out

    def validate_event(self, event: dict[str, Any]) -> None:  # {"event": name, "data": ...}
        assert event["event"] in self.event_schemas, f"no spec schema for {event['event']}"
        self.validate(event, self.event_schemas[event["event"]])


@cache
def load_spec() -> AssistantSpec:
    return AssistantSpec(json_schema(json.loads(SCHEMAS_PATH.read_text(encoding="utf-8"))))
