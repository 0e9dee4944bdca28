"""OpenAI's published schemas for Responses objects and stream events, as a validator.

The schemas come from OpenAI's OpenAPI spec (kept outside the repository, in ../shared/reference)
through scripts/build_response_schemas.py, which writes the part the tests need to data/.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS_PATH = Path(__file__).with_name("data") / "openai_response_schemas.json"
SPEC_URI = "urn:openai-openapi"


class Spec:
    """The spec with a registry that resolves `#/components/schemas/...` against the document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(SPEC_URI, resource)
        self.event_schemas = self._event_schemas()

    def _event_schemas(self) -> dict[str, str]:
        # The union's discriminator has no mapping, so each member's `type` enum names its event.
        out: dict[str, str] = {}
        for member in self.schemas.get("ResponseStreamEvent", {}).get("anyOf", ()):
            name = member["$ref"].rsplit("/", 1)[-1]
            kind = self.schemas[name]["properties"]["type"]
            for value in kind.get("enum") or [kind.get("const")]:
                out[value] = name
        return out

    def validate(self, instance: object, name: str) -> None:
        schema = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
        validator = Draft202012Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{name}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )

    def validate_event(self, event: dict[str, Any]) -> None:
        assert event["type"] in self.event_schemas, f"no spec schema for {event['type']}"
        self.validate(event, self.event_schemas[event["type"]])


@cache
def load_spec(path: Path = SCHEMAS_PATH) -> Spec:
    """The Responses schemas; or another extract of the spec (the Batch schemas, say)."""
    return Spec(json.loads(path.read_text(encoding="utf-8")))
