"""The Assistants objects and stream events the gateway builds, validated against OpenAI's
published schemas (tests/assistants/openapi_spec.py); and those schemas are the spec's own. The
end-to-end tests (tests/e2e/test_assistants*.py) check what the server sends the same way."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnigate.assistants import context, events, objects
from omnigate.errors import ApiError
from tests.assistants.openapi_spec import SCHEMAS_PATH, AssistantSpec, load_spec

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "openai-openapi.yaml"
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def spec() -> AssistantSpec:
    return load_spec()


@dataclass(frozen=True)
class Hit:
    file_id: str
    filename: str
    text: str
    score: float


def made() -> tuple[dict, dict, dict, dict]:
    assistant = objects.assistant({"name": "a", "tools": [TOOL, {"type": "file_search"}]}, "gpt-4o")
    thread = objects.thread({"metadata": {"k": "v"}})
    message = objects.message(
        {
            "role": "user",
            "content": "hi",
            "attachments": [{"file_id": "file-1", "tools": [{"type": "file_search"}]}],
        },
        thread["id"],
    )
    run = objects.run(
        {"max_prompt_tokens": 1000}, thread_id=thread["id"], assistant=assistant, model="gpt-4o"
    )
    return assistant, thread, message, run


def test_objects_match_the_spec(spec: AssistantSpec) -> None:
    assistant, thread, message, run = made()
    spec.validate(assistant, "AssistantObject")
    spec.validate(thread, "ThreadObject")
    spec.validate(message, "MessageObject")
    spec.validate(run, "RunObject")
    spec.validate(objects.assistant_message(run), "MessageObject")
    step = objects.step(run, "message_creation", {"message_creation": {"message_id": message["id"]}})
    spec.validate(step, "RunStepObject")
    spec.validate(objects.listing([assistant], False), "ListAssistantsResponse")
    spec.validate(objects.listing([run], True), "ListRunsResponse")
    spec.validate(
        {"id": assistant["id"], "object": "assistant.deleted", "deleted": True}, "DeleteAssistantResponse"
    )


def test_run_states_match_the_spec(spec: AssistantSpec) -> None:
    _, _, _, run = made()
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    waiting = {
        **run,
        "status": "requires_action",
        "required_action": {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}},
    }
    spec.validate(waiting, "RunObject")
    failed = {
        **run,
        "status": "failed",
        "failed_at": 2,
        "last_error": events.last_error(ApiError(502, "gone")),
    }
    spec.validate(failed, "RunObject")
    cut = {
        **run,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_prompt_tokens"},
        "usage": objects.usage(3, 4),
    }
    spec.validate(cut, "RunObject")


def test_every_event_kind_matches_the_spec(spec: AssistantSpec) -> None:
    _, thread, _, run = made()
    reply = objects.assistant_message(run)
    step = objects.step(run, "tool_calls", {"tool_calls": []})
    hits = [Hit("file-1", "recipes.txt", "Boil the pasta.", 0.8)]
    text, annotations = context.cite("Boil it.", hits)
    function = {
        "index": 1,
        "id": "call_2",
        "type": "function",
        "function": {"name": "f", "arguments": "{}", "output": None},
    }
    sent = [
        ("thread.created", thread),
        ("thread.run.created", run),
        *(
            (f"thread.run.{status}", {**run, "status": status})
            for status in ("queued", "in_progress", "completed")
        ),
        ("thread.run.step.created", step),
        (
            "thread.run.step.delta",
            events.step_delta(
                step["id"], [{"index": 0, **context.file_search_call("call_1", hits)}, function]
            ),
        ),
        ("thread.run.step.completed", {**step, "status": "completed", "completed_at": 1}),
        ("thread.message.created", reply),
        ("thread.message.delta", events.message_delta(reply["id"], "Boil")),
        ("thread.message.delta", events.message_delta(reply["id"], text[4:], annotations)),
        (
            "thread.message.completed",
            {**reply, "status": "completed", "content": [objects.text_part(text, annotations)]},
        ),
        ("error", events.error_data(ApiError(500, "Internal server error", code="internal_error"))),
    ]
    for name, data in sent:
        spec.validate_event({"event": name, "data": data})
    spec.validate_event({"event": "done", "data": "[DONE]"})
    assert events.encode("thread.run.created", {"a": 1}) == b'event: thread.run.created\ndata: {"a":1}\n\n'


def test_citations_point_at_their_markers() -> None:
    hits = [Hit("file-1", "a.txt", "x", 0.5), Hit("file-2", "b.txt", "y", 0.4)]
    text, found = context.cite("See 【1†b.txt】 and 【7†z】.", hits)
    assert [(a["text"], a["file_citation"]["file_id"]) for a in found] == [("【1†b.txt】", "file-2")]
    assert text[found[0]["start_index"] : found[0]["end_index"]] == "【1†b.txt】"
    text, added = context.cite("No markers.", hits)
    assert text.startswith("No markers.\n\nSources:")
    assert [text[a["start_index"] : a["end_index"]] for a in added] == ["【0†a.txt】", "【1†b.txt】"]


def test_the_schemas_are_a_fresh_extract_of_the_spec() -> None:
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAI's OpenAPI spec is not at {SPEC_PATH} (it lives outside the repository)")
    pytest.importorskip("yaml")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_assistant_schemas.py"
    loader = importlib.util.spec_from_file_location("build_assistant_schemas", script)
    assert loader is not None and loader.loader is not None
    build = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(build)
    assert build.build(SPEC_PATH) == SCHEMAS_PATH.read_text(encoding="utf-8"), (
        "re-run scripts/build_assistant_schemas.py"
    )
