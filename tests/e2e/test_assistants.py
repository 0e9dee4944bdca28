"""The Assistants API end to end over an upstream model: the real server and its task runner, the
official SDK's client.beta.*, the fake OpenAI upstream for gpt-4o (priced here); on SQLite and on
PostgreSQL + Redis. Every object and stream event is checked against OpenAI's published schemas.

The fake answers "echo: <last user text>", and calls the first function tool when the request
forces one (tests/fakes/openai_upstream.py), so what each run does is known in advance.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from sqlalchemy import update

from omnigate.store import schema
from omnigate.store.timestamps import now
from tests.assistants.openapi_spec import load_spec
from tests.e2e.conftest import (
    INPUT_CREDITS_PER_TOKEN,
    OUTPUT_CREDITS_PER_TOKEN,
    PRICED_MODEL,
    STARTING_CREDITS,
    Harness,
    eventually,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FORCED = {"type": "function", "function": {"name": "get_weather"}}
# The SDK marks client.beta.assistants and threads deprecated (in favour of Responses).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def rest(harness: Harness, method: str, path: str, *, key: str | None = None, **kwargs: Any):
    headers = {"Authorization": f"Bearer {key or harness.key}", "OpenAI-Beta": "assistants=v2"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, harness.base_url + path, **kwargs) as response,
    ):
        return response.status, await response.read()


async def events_of(harness: Harness, path: str, body: dict) -> list[dict]:
    """A streamed answer's events as sent: [{"event": name, "data": object or "[DONE]"}]."""
    status, raw = await rest(harness, "POST", path, json={**body, "stream": True})
    assert status == 200, raw
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        data = lines["data"]
        out.append({"event": lines["event"], "data": data if data == "[DONE]" else json.loads(data)})
    return out


def conforms(obj: Any, schema: str) -> None:
    # The SDK's objects as the server sent them (fields it left out stay out).
    sent = obj if isinstance(obj, dict) else obj.model_dump(exclude_unset=True)
    load_spec().validate(orjson.loads(orjson.dumps(sent)), schema)


async def setup(client: openai.AsyncOpenAI, **assistant: Any) -> tuple[Any, Any]:
    made = await client.beta.assistants.create(model=PRICED_MODEL, instructions="Be brief.", **assistant)
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hello there"}])
    return made, thread


async def test_a_run_answers_and_is_charged_once(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client, name="helper", metadata={"team": "a"})
    conforms(assistant, "AssistantObject")
    conforms(thread, "ThreadObject")
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed", run.last_error
    conforms(run, "RunObject")
    messages = await client.beta.threads.messages.list(thread_id=thread.id)
    conforms(messages.model_dump(exclude_unset=True), "ListMessagesResponse")
    latest = messages.data[0]
    assert latest.role == "assistant" and latest.run_id == run.id
    assert latest.content[0].text.value == "echo: hello there"
    steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    assert steps.data[0].step_details.message_creation.message_id == latest.id
    conforms(steps.model_dump(exclude_unset=True), "ListRunStepsResponse")
    # The fake counts the words of every message (instructions included) and 4 characters a token.
    assert run.usage.prompt_tokens == 4 and run.usage.completion_tokens == 5
    await harness.flush()
    entries = [e for e in harness.db.ledger_entries(harness.account_id) if e.entry_id.startswith("run:")]
    assert [e.entry_id for e in entries] == [f"run:{run.id}:0"]
    cost = 4 * INPUT_CREDITS_PER_TOKEN + 5 * OUTPUT_CREDITS_PER_TOKEN
    assert -entries[0].amount == cost
    account = harness.db.account(harness.account_id)
    assert account.balance == STARTING_CREDITS - cost == harness.db.ledger_sum(harness.account_id)


async def test_a_function_tool_round_trip(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client, tools=[WEATHER])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=FORCED, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    conforms(run, "RunObject")
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    run = await client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": calls[0].id, "output": "sunny"}],
        poll_interval_ms=50,
    )
    assert run.status == "completed", run.last_error
    steps = (await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc")).data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    assert steps[0].step_details.tool_calls[0].function.output == "sunny"
    for step in steps:
        conforms(step, "RunStepObject")
    # Two model calls, each charged once under its own entry id.
    await harness.flush()
    ids = sorted(
        e.entry_id for e in harness.db.ledger_entries(harness.account_id) if e.entry_id.startswith("run:")
    )
    assert ids == [f"run:{run.id}:0", f"run:{run.id}:1"]


async def test_streamed_events_match_the_spec_and_end_with_done(harness: Harness) -> None:
    client = harness.client()
    assistant = await client.beta.assistants.create(model=PRICED_MODEL, tools=[WEATHER])
    events = await events_of(
        harness,
        "/threads/runs",
        {
            "assistant_id": assistant.id,
            "thread": {"messages": [{"role": "user", "content": "what is the weather"}]},
            "tool_choice": FORCED,
        },
    )
    names = [e["event"] for e in events]
    assert names[:4] == [
        "thread.created",
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert names[-2:] == ["thread.run.requires_action", "done"]
    assert "thread.run.step.delta" in names
    spec = load_spec()
    for event in events:
        spec.validate_event(event)
    run = events[-2]["data"]
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    more = await events_of(
        harness,
        f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call["id"], "output": "sunny"}]},
    )
    names = [e["event"] for e in more]
    assert names[0] == "thread.run.step.completed" and names[-2:] == ["thread.run.completed", "done"]
    assert "thread.message.delta" in names and "thread.message.completed" in names
    text = "".join(
        e["data"]["delta"]["content"][0]["text"]["value"]
        for e in more
        if e["event"] == "thread.message.delta"
    )
    completed = next(e["data"] for e in more if e["event"] == "thread.message.completed")
    assert text == completed["content"][0]["text"]["value"] != ""
    for event in more:
        spec.validate_event(event)


async def test_the_sdk_stream_helper_gets_text_deltas(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client)
    seen: list[str] = []

    class Handler(openai.AsyncAssistantEventHandler):
        async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
            seen.append(delta.value)

    async with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Handler()
    ) as stream:
        await stream.until_done()
        final = await stream.get_final_run()
    assert final.status == "completed"
    assert "".join(seen) == "echo: hello there"


async def test_cancel_a_run_waiting_for_tool_outputs(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client, tools=[WEATHER])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=FORCED, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    cancelling = await client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
    assert cancelling.status in ("cancelling", "cancelled")

    async def cancelled() -> bool:
        got = await client.beta.threads.runs.retrieve(run_id=run.id, thread_id=thread.id)
        return got.status == "cancelled"

    await eventually(cancelled, timeout=10.0)
    got = await client.beta.threads.runs.retrieve(run_id=run.id, thread_id=thread.id)
    assert got.cancelled_at is not None
    conforms(got, "RunObject")
    steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    assert [s.status for s in steps.data] == ["cancelled"]
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.runs.cancel(run_id=run.id, thread_id=thread.id)
    # The thread is free again: a new run may start.
    again = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert again.status == "completed"


async def test_another_accounts_objects_are_not_found(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client)
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    harness.db.create_account("other", low_balance_threshold=0, origin="test")
    other_key, _ = harness.db.create_key("other", admin=False, origin="test")
    paths = [
        ("GET", f"/assistants/{assistant.id}", "assistant_id"),
        ("DELETE", f"/assistants/{assistant.id}", "assistant_id"),
        ("GET", f"/threads/{thread.id}", "thread_id"),
        ("GET", f"/threads/{thread.id}/messages", "thread_id"),
        ("GET", f"/threads/{thread.id}/runs/{run.id}", "run_id"),
        ("GET", f"/threads/{thread.id}/runs/{run.id}/steps", "run_id"),
    ]
    for method, path, param in paths:
        status, body = await rest(harness, method, path, key=other_key)
        assert status == 404, (path, body)
        assert orjson.loads(body)["error"]["param"] == param
    status, body = await rest(harness, "GET", "/assistants", key=other_key)
    assert orjson.loads(body)["data"] == []
    status, body = await rest(
        harness, "POST", f"/threads/{thread.id}/runs", key=other_key, json={"assistant_id": assistant.id}
    )
    assert status == 404


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/assistants", {}, "model"),
        ("/assistants", {"model": PRICED_MODEL, "temperature": 3}, "temperature"),
        ("/assistants", {"model": PRICED_MODEL, "name": 5}, "name"),
        ("/assistants", {"model": PRICED_MODEL, "tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
        (
            "/assistants",
            {"model": PRICED_MODEL, "tools": [{"type": "function", "function": {}}]},
            "tools[0].function.name",
        ),
        ("/assistants", {"model": PRICED_MODEL, "metadata": {"k": 1}}, "metadata.k"),
        ("/assistants", {"model": PRICED_MODEL, "reasoning_effort": "max"}, "reasoning_effort"),
        ("/threads", {"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ("/threads", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ("/threads/runs", {"thread": {}}, "assistant_id"),
    ],
)
async def test_bad_bodies_are_400s_naming_the_field(
    harness: Harness, path: str, body: dict, param: str
) -> None:
    status, raw = await rest(harness, "POST", path, json=body)
    assert status == 400, raw
    assert orjson.loads(raw)["error"]["param"] == param


async def test_bad_run_input_and_unknown_ids(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client, tools=[WEATHER])
    runs = f"/threads/{thread.id}/runs"
    for body, param in [
        ({"assistant_id": assistant.id, "temperature": "hot"}, "temperature"),
        ({"assistant_id": assistant.id, "max_completion_tokens": 0}, "max_completion_tokens"),
        (
            {"assistant_id": assistant.id, "truncation_strategy": {"type": "last_messages"}},
            "truncation_strategy.last_messages",
        ),
        (
            {"assistant_id": assistant.id, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        (
            {"assistant_id": assistant.id, "additional_messages": [{"role": "user"}]},
            "additional_messages[0].content",
        ),
    ]:
        status, raw = await rest(harness, "POST", runs, json=body)
        assert status == 400, (body, raw)
        assert orjson.loads(raw)["error"]["param"] == param
    status, raw = await rest(harness, "POST", runs, json={"assistant_id": "asst_missing"})
    assert status == 404 and orjson.loads(raw)["error"]["param"] == "assistant_id"
    status, raw = await rest(
        harness, "POST", "/threads/thread_missing/runs", json={"assistant_id": assistant.id}
    )
    assert status == 404 and orjson.loads(raw)["error"]["param"] == "thread_id"
    status, raw = await rest(harness, "GET", f"{runs}?limit=500")
    assert status == 400 and orjson.loads(raw)["error"]["param"] == "limit"
    # A thread with an active run takes no second run and no new message.
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=FORCED, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    status, raw = await rest(harness, "POST", runs, json={"assistant_id": assistant.id})
    assert status == 400 and run.id in orjson.loads(raw)["error"]["message"]
    status, raw = await rest(
        harness, "POST", f"/threads/{thread.id}/messages", json={"role": "user", "content": "x"}
    )
    assert status == 400
    status, raw = await rest(
        harness,
        "POST",
        f"{runs}/{run.id}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": "call_x", "output": "1"}]},
    )
    assert status == 400 and orjson.loads(raw)["error"]["param"] == "tool_outputs[0].tool_call_id"


async def test_lists_page_in_order(harness: Harness) -> None:
    client = harness.client()
    made = [await client.beta.assistants.create(model=PRICED_MODEL, name=f"a{n}") for n in range(5)]
    ids = [a.id for a in made]
    page = await client.beta.assistants.list(limit=2)
    assert [a.id for a in page.data] == ids[::-1][:2] and page.has_more
    conforms(page.model_dump(exclude_unset=True), "ListAssistantsResponse")
    page = await client.beta.assistants.list(limit=2, order="asc", after=ids[1])
    assert [a.id for a in page.data] == ids[2:4] and page.has_more
    page = await client.beta.assistants.list(order="asc", before=ids[2])
    assert [a.id for a in page.data] == ids[:2] and not page.has_more
    everything = [a.id async for a in client.beta.assistants.list(limit=2, order="asc")]
    assert everything == ids
    changed = await client.beta.assistants.update(ids[0], name="renamed", metadata={"v": "2"})
    assert changed.name == "renamed" and changed.metadata == {"v": "2"}
    deleted = await client.beta.assistants.delete(ids[0])
    assert deleted.deleted and deleted.id == ids[0]
    conforms(deleted, "DeleteAssistantResponse")
    with pytest.raises(openai.NotFoundError):
        await client.beta.assistants.retrieve(ids[0])


async def test_threads_and_messages_crud(harness: Harness) -> None:
    client = harness.client()
    thread = await client.beta.threads.create(metadata={"topic": "x"})
    message = await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="first")
    conforms(message, "MessageObject")
    updated = await client.beta.threads.messages.update(
        message_id=message.id, thread_id=thread.id, metadata={"a": "b"}
    )
    assert updated.metadata == {"a": "b"}
    fetched = await client.beta.threads.messages.retrieve(message_id=message.id, thread_id=thread.id)
    assert fetched.content[0].text.value == "first"
    gone = await client.beta.threads.messages.delete(message_id=message.id, thread_id=thread.id)
    assert gone.deleted
    conforms(gone, "DeleteMessageResponse")
    thread = await client.beta.threads.update(thread.id, metadata={"topic": "y"})
    assert thread.metadata == {"topic": "y"}
    deleted = await client.beta.threads.delete(thread.id)
    conforms(deleted, "DeleteThreadResponse")
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.retrieve(thread.id)


RECIPES = (
    b"Sun-Dried Tomato Pasta. Boil the spaghetti in salted water, fry garlic and tomatoes in olive oil.\n\n"
    b"Chickpea Salad. Combine chickpeas, avocado and red onion; add lemon juice.\n\n"
    b"Oatmeal Banana Cookies. Mash two bananas, mix in oats, bake 15 minutes at 180 C.\n"
)


async def test_file_search_over_an_attached_file_cites_it(harness: Harness) -> None:
    client = harness.client()
    uploaded = await client.files.create(file=("recipes.txt", RECIPES, "text/plain"), purpose="assistants")
    assistant = await client.beta.assistants.create(
        model=PRICED_MODEL, instructions="Answer from the recipes.", tools=[{"type": "file_search"}]
    )
    thread = await client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "How long do the cookies bake?",
                "attachments": [{"file_id": uploaded.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed", run.last_error
    steps = (await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc")).data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    search = steps[0].step_details.tool_calls[0]
    assert search.type == "file_search"
    results = search.file_search.results
    assert results and {r.file_id for r in results} == {uploaded.id}
    assert results[0].file_name == "recipes.txt" and "bake" in results[0].content[0].text
    for step in steps:
        conforms(step, "RunStepObject")
    # The model read the chunks found, numbered for citing.
    sent = harness.upstream.requests[-1]["messages"][0]
    assert (
        sent["role"] == "system"
        and "【0†recipes.txt】" in sent["content"]
        and "bake 15 minutes" in sent["content"]
    )
    # The fake cites nothing itself, so the answer names its source at the end.
    message = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0]
    text = message.content[0].text
    assert text.value.startswith("echo: How long do the cookies bake?")
    [citation] = text.annotations
    assert citation.type == "file_citation" and citation.file_citation.file_id == uploaded.id
    assert text.value[citation.start_index : citation.end_index] == citation.text == "【0†recipes.txt】"
    conforms(message, "MessageObject")
    # An unknown file cannot be attached.
    status, raw = await rest(
        harness,
        "POST",
        f"/threads/{thread.id}/messages",
        json={
            "role": "user",
            "content": "x",
            "attachments": [{"file_id": "file-nope", "tools": [{"type": "file_search"}]}],
        },
    )
    assert status == 404 and orjson.loads(raw)["error"]["param"] == "attachments[0].file_id"


async def test_an_upstream_failure_fails_the_run_with_its_error(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client)
    harness.upstream.fail_next = [503]
    harness.backup.fail_next = [503]
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error.code == "server_error" and run.last_error.message
    conforms(run, "RunObject")
    # A stream that breaks midway: the message it began ends incomplete, what was used is charged.
    harness.upstream.fail_next = ["midstream"]
    events = await events_of(harness, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    assert [e["event"] for e in events][-5:] == [
        "thread.message.delta",
        "thread.message.incomplete",
        "thread.run.step.failed",
        "thread.run.failed",
        "done",
    ]
    assert events[-2]["data"]["last_error"]["code"] == "server_error"
    for event in events:
        load_spec().validate_event(event)
    await harness.flush()
    failed_run = next(e["data"] for e in events if e["event"] == "thread.run.failed")
    entries = [e.entry_id for e in harness.db.ledger_entries(harness.account_id)]
    assert entries.count(f"run:{failed_run['id']}:0") == 1


async def test_a_run_left_waiting_for_tool_outputs_expires(harness: Harness) -> None:
    client = harness.client()
    assistant, thread = await setup(client, tools=[WEATHER])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=FORCED, poll_interval_ms=50
    )
    assert run.status == "requires_action" and run.expires_at > run.created_at
    runs = schema.assistant_runs
    with harness.db.engine.begin() as conn:  # its ten minutes are up
        conn.execute(update(runs).where(runs.c.id == run.id).values(next_run_at=now() - timedelta(seconds=1)))
    harness.gateway.runner.nudge()

    async def expired() -> bool:
        got = await client.beta.threads.runs.retrieve(run_id=run.id, thread_id=thread.id)
        return got.status == "expired"

    await eventually(expired, timeout=10.0)
    steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    assert [(s.status, s.expired_at is not None) for s in steps.data] == [("expired", True)]
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "x", "output": "y"}]
        )


async def test_a_file_search_that_cannot_read_its_file_fails_the_run(harness: Harness) -> None:
    client = harness.client()
    uploaded = await client.files.create(
        file=("photo.png", b"\x89PNG\r\n\x1a\n...", "image/png"), purpose="assistants"
    )
    assistant = await client.beta.assistants.create(
        model=PRICED_MODEL,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"file_ids": [uploaded.id]}},
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "What is in it?"}])
    calls_before = len(harness.upstream.requests)
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "failed" and run.last_error.code == "invalid_prompt", run.last_error
    steps = await client.beta.threads.runs.steps.list(run_id=run.id, thread_id=thread.id)
    assert [(s.type, s.status) for s in steps.data] == [("tool_calls", "failed")]
    assert steps.data[0].last_error.message == run.last_error.message
    conforms(steps.data[0], "RunStepObject")
    assert len(harness.upstream.requests) == calls_before  # the model was never asked
    # tool_resources that name a missing file are refused when given.
    with pytest.raises(openai.NotFoundError):
        await client.beta.assistants.create(
            model=PRICED_MODEL, tool_resources={"file_search": {"file_ids": ["file-missing"]}}
        )
