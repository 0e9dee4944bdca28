"""The Responses objects and stream events the translators build, validated against OpenAI's
published schemas (tests/responses/openapi_spec.py); and those schemas are the spec's own."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from omnigate.responses.stream import EventTranslator
from omnigate.responses.translate import base_response, to_response
from tests.responses.openapi_spec import SCHEMAS_PATH, Spec, load_spec

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "openai-openapi.yaml"

USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
# A function tool as clients often send it: without `strict`, which the spec's echo requires.
TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
REQUEST: dict[str, Any] = {"model": "gpt-4o", "input": "hi", "tools": [TOOL]}


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


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


def test_the_schemas_are_a_fresh_extract_of_the_spec() -> None:
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAI's OpenAPI spec is not at {SPEC_PATH} (it lives outside the repository)")
    pytest.importorskip("yaml")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_response_schemas.py"
    loader = importlib.util.spec_from_file_location("build_response_schemas", script)
    assert loader is not None and loader.loader is not None
    build = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(build)
    fresh = build.render(build.extract(SPEC_PATH))
    assert fresh == SCHEMAS_PATH.read_text(encoding="utf-8"), "re-run scripts/build_response_schemas.py"
