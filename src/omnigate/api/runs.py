"""The Assistants API's runs and run steps:

    POST /threads/{thread_id}/runs          create (stream: true answers the events as SSE)
    POST /threads/runs                      create a thread and run it
    GET  /threads/{thread_id}/runs          list;  GET|POST /threads/{thread_id}/runs/{run_id}
    POST …/runs/{run_id}/submit_tool_outputs, POST …/runs/{run_id}/cancel
    GET  …/runs/{run_id}/steps, GET …/runs/{run_id}/steps/{step_id}

A run without `stream` is queued for the task runner (tasks/runs.py), which any replica may take.
A streamed one is inserted with this process's lease already on it and run here, its events
written to the response as they happen; a client that leaves does not stop it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from omnigate.api.assistants import (
    CHAT_TYPES,
    ENDPOINT,
    answer,
    authorized,
    check_message_files,
    check_resources,
    owned,
    page_of,
    thread_with_messages,
)
from omnigate.api.chat_call import CHAT
from omnigate.api.common import in_db, read_json, resolve_model, validate
from omnigate.assistants import context, events, objects, params
from omnigate.errors import bad_request, not_found
from omnigate.gateway import GATEWAY, REQUEST_ID
from omnigate.http.scopes import require_scope
from omnigate.http.sse import ClientGone, open_sse, send
from omnigate.store.assistants import RunRow, ThreadBusy
from omnigate.store.rows import KeyRow


async def create_run(request: web.Request) -> web.StreamResponse:
    key = await authorized(request)
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    body, _ = await read_json(request)
    extra = body.get("additional_messages") or []
    if not isinstance(extra, list):
        raise params.invalid("additional_messages", "Expected array")
    messages = [
        objects.message(m, thread["id"], where=f"additional_messages[{n}].") for n, m in enumerate(extra)
    ]
    await check_message_files(request.app[GATEWAY], messages, key.account_id, "additional_messages[{n}].")
    return await _start(request, key, body, thread, [], messages)


async def create_thread_and_run(request: web.Request) -> web.StreamResponse:
    key = await authorized(request)
    body, _ = await read_json(request)
    given = body.get("thread") or {}
    if not isinstance(given, dict):
        raise params.invalid("thread", "Expected object")
    thread, messages = thread_with_messages(given, "thread.")
    await check_resources(request.app[GATEWAY], thread["tool_resources"], key.account_id)
    await check_message_files(request.app[GATEWAY], messages, key.account_id, "thread.messages[{n}].")
    return await _start(request, key, body, thread, [("thread", thread, None, thread["id"])], messages)


async def _start(
    request: web.Request,
    key: KeyRow,
    body: dict[str, Any],
    thread: dict[str, Any],
    made: list[tuple[str, dict[str, Any], str | None, str | None]],
    messages: list[dict[str, Any]],
) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    assistant_id = body.get("assistant_id")
    if not isinstance(assistant_id, str) or not assistant_id:
        raise params.invalid("assistant_id", "Required: the id of an assistant")
    assistant = await owned(request, "assistant", assistant_id, key, "assistant_id")
    stream = params.boolean(body, "stream") or False
    model = resolve_model(
        gw.catalog, {"model": body.get("model") or assistant["model"]}, accepted=CHAT_TYPES, endpoint=ENDPOINT
    )
    run = objects.run(body, thread_id=thread["id"], assistant=assistant, model=model.id)
    # What the model's rules refuse (a temperature out of its range, say) is refused now, not
    # when the run starts.
    require_scope(key, CHAT.endpoint)
    validate(model, context.chat_body(run, [{"role": "user", "content": "."}]))
    made = made + [("message", m, thread["id"], thread["id"]) for m in messages]
    try:
        await in_db(
            gw.db.insert_run,
            run,
            account_id=key.account_id,
            key_prefix=key.prefix,
            state={},
            owner=gw.runner.owner if stream else None,
            lease_s=gw.settings.tasks.lease_s,
            objects=made,
        )
    except ThreadBusy as exc:
        active = await in_db(gw.db.active_run, thread["id"])
        raise bad_request(
            f"Thread {thread['id']} already has an active run {active}.",
            param="thread_id",
            code="thread_busy",
        ) from exc
    if not stream:
        gw.runner.nudge()
        return answer(request, run)
    opening = [("thread.created", thread)] if made and made[0][0] == "thread" else []
    opening += [("thread.run.created", run), ("thread.run.queued", run)]
    return await _stream(request, run["id"], opening)


async def _stream(request: web.Request, run_id: str, opening: list[tuple[str, dict]]) -> web.StreamResponse:
    """Run a turn of a run this process leased, writing its events as they come."""
    gw = request.app[GATEWAY]
    row = await in_db(gw.db.run, run_id)
    queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
    for event in opening:
        queue.put_nowait(event)
    response = await open_sse(request, {"X-Request-Id": request[REQUEST_ID]})
    gw.runner.runs.adopt(row, lambda event, data: queue.put_nowait((event, data)))
    while True:
        event, data = await queue.get()
        if not event:  # the turn ended
            break
        try:
            await send(response, events.encode(event, data))
        except ClientGone:
            return response  # the turn goes on without its listener
    try:
        await send(response, events.DONE)
        await response.write_eof()
    except ClientGone:
        pass
    return response


async def _run(request: web.Request, key: KeyRow) -> RunRow:
    thread_id, run_id = request.match_info["thread_id"], request.match_info["run_id"]
    row = await in_db(request.app[GATEWAY].db.run, run_id, key.account_id)
    if row is None or row.thread_id != thread_id:
        raise not_found(f"No run found with id '{run_id}'.", param="run_id")
    return row


async def list_runs(request: web.Request) -> web.Response:
    key = await authorized(request)
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    data, more = await in_db(
        request.app[GATEWAY].db.list_runs, thread["id"], key.account_id, page_of(request)
    )
    return answer(request, objects.listing(data, more))


async def get_run(request: web.Request) -> web.Response:
    key = await authorized(request)
    row = await _run(request, key)
    if row.status in ("queued", "cancelling"):
        request.app[GATEWAY].runner.nudge()  # a client polls: its turn comes now
    return answer(request, row.body)


async def modify_run(request: web.Request) -> web.Response:
    key = await authorized(request)
    row = await _run(request, key)
    body, _ = await read_json(request)
    run = dict(row.body)
    if "metadata" in body:
        run["metadata"] = params.metadata(body) or {}
    await in_db(request.app[GATEWAY].db.update_run_body, row.id, key.account_id, run)
    return answer(request, run)


async def cancel_run(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    row = await _run(request, key)
    if row.status not in ("queued", "in_progress", "requires_action"):
        raise bad_request(
            f"Cannot cancel run with status '{row.status}'.", param="run_id", code="run_not_active"
        )
    row = await in_db(gw.db.cancel_run, row.id, key.account_id) or row
    gw.runner.runs.cancelled(row.id)
    return answer(request, row.body)


async def submit_tool_outputs(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    row = await _run(request, key)
    body, _ = await read_json(request)
    if row.status != "requires_action":
        raise bad_request(
            f"Runs in status '{row.status}' do not accept tool outputs.",
            param="run_id",
            code="run_not_waiting",
        )
    stream = params.boolean(body, "stream") or False
    outputs = _outputs(body, row)
    state = dict(row.state)
    step = dict(state.get("open", {}).get("step") or {})
    state["history"] = list(state.get("history") or []) + [
        {"role": "tool", "tool_call_id": call_id, "content": output} for call_id, output in outputs.items()
    ]
    if step:
        details = step["step_details"]
        for call in details["tool_calls"]:
            call["function"]["output"] = outputs.get(call["id"])
        step.update(status="completed", completed_at=objects.stamp())
    state["open"] = {}
    run = {**row.body, "status": "queued", "required_action": None}
    done = await in_db(
        gw.db.continue_run,
        row.id,
        key.account_id,
        body=run,
        state=state,
        owner=gw.runner.owner if stream else None,
        lease_s=gw.settings.tasks.lease_s,
        step=step or None,
    )
    if not done:  # it expired or was cancelled meanwhile
        raise bad_request("The run no longer waits for tool outputs.", param="run_id", code="run_not_waiting")
    if not stream:
        gw.runner.nudge()
        return answer(request, run)
    opening = ([("thread.run.step.completed", step)] if step else []) + [("thread.run.queued", run)]
    return await _stream(request, row.id, opening)


def _outputs(body: dict[str, Any], row: RunRow) -> dict[str, str]:
    """{tool call id: output}: one for every call the run waits on, no other."""
    given = body.get("tool_outputs")
    if not isinstance(given, list) or not given:
        raise params.invalid("tool_outputs", "Required: an array of {tool_call_id, output}")
    waiting = [
        c["id"]
        for c in ((row.body.get("required_action") or {}).get("submit_tool_outputs") or {}).get(
            "tool_calls", []
        )
    ]
    outputs: dict[str, str] = {}
    for index, item in enumerate(given):
        where = f"tool_outputs[{index}]"
        call_id = item.get("tool_call_id") if isinstance(item, dict) else None
        if call_id not in waiting:
            raise params.invalid(f"{where}.tool_call_id", f"{call_id!r} is not a tool call this run waits on")
        output = item.get("output", "")
        if not isinstance(output, str):
            raise params.invalid(f"{where}.output", "Expected string")
        outputs[call_id] = output
    missing = [c for c in waiting if c not in outputs]
    if missing:
        raise params.invalid("tool_outputs", f"Missing outputs for the tool calls {', '.join(missing)}")
    return outputs


async def list_steps(request: web.Request) -> web.Response:
    key = await authorized(request)
    row = await _run(request, key)
    data, more = await in_db(
        request.app[GATEWAY].db.list_objects, "step", key.account_id, page_of(request), parent_id=row.id
    )
    return answer(request, objects.listing(data, more))


async def get_step(request: web.Request) -> web.Response:
    key = await authorized(request)
    row = await _run(request, key)
    step = await owned(request, "step", request.match_info["step_id"], key, "step_id")
    if step["run_id"] != row.id:
        raise not_found(f"No step found with id '{step['id']}'.", param="step_id")
    return answer(request, step)


ROUTES = [
    ("POST", "/threads/runs", create_thread_and_run),
    ("POST", "/threads/{thread_id}/runs", create_run),
    ("GET", "/threads/{thread_id}/runs", list_runs),
    ("GET", "/threads/{thread_id}/runs/{run_id}", get_run),
    ("POST", "/threads/{thread_id}/runs/{run_id}", modify_run),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", cancel_run),
    ("POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", submit_tool_outputs),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps", list_steps),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}", get_step),
]
