"""The Responses objects and stream events the translators build, validated against OpenAI's
published OpenAPI spec (kept outside the repository, in ../shared/reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from omnigate.responses.stream import EventTranslator
from omnigate.responses.translate import base_response, to_response

yaml = pytest.importorskip("yaml")

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai-openapi"
USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
REQUEST: dict[str, Any] = {"model": "gpt-4o", "input": "hi"}


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
        for member in self.schemas["ResponseStreamEvent"]["anyOf"]:
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


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAI's OpenAPI spec is not at {SPEC_PATH} (it lives outside the repository)")
    # The C loader, where PyYAML has it: the spec is about 3 MB.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return Spec(yaml.load(handle, Loader=loader))


def completion(message: dict[str, Any], finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "created": 1_700_000_000,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": USAGE,
    }


TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


@pytest.mark.parametrize(
    ("message", "finish_reason"),
    [
        ({"role": "assistant", "content": "hello"}, "stop"),
        ({"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}, "tool_calls"),
        ({"role": "assistant", "content": "cut sh"}, "length"),
    ],
    ids=["text", "tool-call", "incomplete"],
)
def test_response_matches_the_spec(spec: Spec, message: dict[str, Any], finish_reason: str) -> None:
    response = to_response(completion(message, finish_reason), REQUEST, response_id="resp_1", model="gpt-4o")
    spec.validate(response, "Response")


def stream_events(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = EventTranslator(base_response(REQUEST, response_id="resp_1", model="gpt-4o", created_at=1))
    events = translator.start()
    for chunk in chunks:
        events += translator.feed(chunk)
    return events + translator.finish(USAGE)


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def test_streamed_text_events_match_the_spec(spec: Spec) -> None:
    events = stream_events(
        [chunk({"role": "assistant", "content": "hel"}), chunk({"content": "lo"}), chunk({}, "stop")]
    )
    assert {e["type"] for e in events} >= {"response.output_text.delta", "response.completed"}
    for event in events:
        spec.validate_event(event)


def test_streamed_tool_call_events_match_the_spec(spec: Spec) -> None:
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    events = stream_events(
        [
            chunk({"role": "assistant", "tool_calls": [first]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, "tool_calls"),
        ]
    )
    assert "response.function_call_arguments.delta" in {e["type"] for e in events}
    for event in events:
        spec.validate_event(event)


def test_streamed_incomplete_events_match_the_spec(spec: Spec) -> None:
    events = stream_events([chunk({"role": "assistant", "content": "cut"}, "length")])
    assert events[-1]["type"] == "response.incomplete"
    for event in events:
        spec.validate_event(event)


@pytest.mark.parametrize("status", [429, 502])
def test_failed_stream_event_matches_the_spec(spec: Spec, status: int) -> None:
    translator = EventTranslator(base_response(REQUEST, response_id="resp_1", model="gpt-4o", created_at=1))
    events = (
        translator.start() + translator.feed(chunk({"content": "par"})) + translator.failed(status, "gone")
    )
    assert events[-1]["type"] == "response.failed"
    for event in events:
        spec.validate_event(event)
