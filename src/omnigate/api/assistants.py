"""The Assistants API's objects (OpenAI Assistants v2), kept in the database per account:

    POST|GET /assistants, GET|POST|DELETE /assistants/{assistant_id}
    POST /threads, GET|POST|DELETE /threads/{thread_id}
    POST|GET /threads/{thread_id}/messages, GET|POST|DELETE /threads/{thread_id}/messages/{message_id}

(each also under /v1). Runs are api/runs.py. Another account's ids answer 404, as missing ones do.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from omnigate.api.common import in_db, read_json, resolve_model
from omnigate.assistants import objects, params
from omnigate.errors import bad_request, not_found
from omnigate.gateway import GATEWAY, REQUEST_ID, Gateway
from omnigate.http.scopes import require_scope
from omnigate.store.rows import KeyRow

ENDPOINT = "/v1/assistants"
CHAT_TYPES = ("chat-completion",)


# -- shared by the Assistants routes --------------------------------------------------------------
async def authorized(request: web.Request) -> KeyRow:
    key = await request.app[GATEWAY].keys.authenticate(request.headers.get("Authorization"))
    require_scope(key, ENDPOINT)
    return key


def answer(request: web.Request, body: object) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        headers={"Content-Type": "application/json", "X-Request-Id": request[REQUEST_ID]},
    )


async def owned(request: web.Request, kind: str, object_id: str, key: KeyRow, param: str) -> dict[str, Any]:
    """The account's object, or a 404 that names it (another account's is missing here too)."""
    found = await in_db(request.app[GATEWAY].db.get_object, kind, object_id, key.account_id)
    if found is None:
        raise not_found(f"No {kind} found with id '{object_id}'.", param=param)
    return found


async def check_files(gw: Gateway, file_ids: list[str], account_id: int, param: str) -> None:
    """File ids must name the account's uploads (the files API, /v1/files); 404 naming the first
    that does not."""
    lookup = getattr(gw.db, "upload", None)
    if lookup is None:  # the files API is not on this build
        return
    for index, file_id in enumerate(file_ids):
        if await asyncio.to_thread(lookup, file_id, account_id) is None:
            raise not_found(f"No file found with id '{file_id}'.", param=param.format(index=index))


async def check_message_files(
    gw: Gateway, messages: list[dict[str, Any]], account_id: int, where: str
) -> None:
    for n, msg in enumerate(messages):
        ids = [a["file_id"] for a in msg.get("attachments") or ()]
        await check_files(gw, ids, account_id, f"{where.format(n=n)}attachments[{{index}}].file_id")


async def check_resources(gw: Gateway, resources: dict[str, Any] | None, account_id: int) -> None:
    ids = ((resources or {}).get("file_search") or {}).get("file_ids") or []
    await check_files(gw, ids, account_id, "tool_resources.file_search.file_ids[{index}]")


def page_of(request: web.Request) -> params.Page:
    return params.page(request.query)


# -- assistants -----------------------------------------------------------------------------------
async def create_assistant(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    body, _ = await read_json(request)
    model = resolve_model(gw.catalog, body, accepted=CHAT_TYPES, endpoint=ENDPOINT)
    assistant = objects.assistant(body, model.id)
    await check_resources(gw, assistant["tool_resources"], key.account_id)
    await in_db(gw.db.save_object, "assistant", assistant, key.account_id)
    return answer(request, assistant)


async def list_assistants(request: web.Request) -> web.Response:
    key = await authorized(request)
    data, more = await in_db(
        request.app[GATEWAY].db.list_objects, "assistant", key.account_id, page_of(request)
    )
    return answer(request, objects.listing(data, more))


async def get_assistant(request: web.Request) -> web.Response:
    key = await authorized(request)
    return answer(
        request, await owned(request, "assistant", request.match_info["assistant_id"], key, "assistant_id")
    )


async def modify_assistant(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    assistant = await owned(request, "assistant", request.match_info["assistant_id"], key, "assistant_id")
    body, _ = await read_json(request)
    changes = objects.assistant_fields(body)
    if "model" in body:
        changes["model"] = resolve_model(gw.catalog, body, accepted=CHAT_TYPES, endpoint=ENDPOINT).id
    await check_resources(gw, changes.get("tool_resources"), key.account_id)
    assistant.update(changes)
    await in_db(gw.db.replace_object, "assistant", assistant, key.account_id)
    return answer(request, assistant)


async def delete_assistant(request: web.Request) -> web.Response:
    return await _delete(request, "assistant", "assistant_id", "assistant.deleted")


async def _delete(request: web.Request, kind: str, param: str, object_name: str) -> web.Response:
    key = await authorized(request)
    object_id = request.match_info[param]
    if not await in_db(request.app[GATEWAY].db.delete_object, kind, object_id, key.account_id):
        raise not_found(f"No {kind} found with id '{object_id}'.", param=param)
    return answer(request, {"id": object_id, "object": object_name, "deleted": True})


# -- threads --------------------------------------------------------------------------------------
def thread_with_messages(
    body: dict[str, Any], where: str = ""
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new thread and its first messages, from a create body (or create-and-run's `thread`)."""
    thread = objects.thread(body)
    given = body.get("messages") or []
    if not isinstance(given, list):
        raise params.invalid(f"{where}messages", "Expected array")
    return thread, [
        objects.message(m, thread["id"], where=f"{where}messages[{n}].") for n, m in enumerate(given)
    ]


async def create_thread(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    # The SDK's threads.create() may send no body at all.
    body = (await read_json(request))[0] if (await request.read()).strip() else {}
    thread, messages = thread_with_messages(body)
    await check_resources(gw, thread["tool_resources"], key.account_id)
    await check_message_files(gw, messages, key.account_id, "messages[{n}].")
    rows = [("thread", thread, key.account_id, None, thread["id"])]
    rows += [("message", m, key.account_id, thread["id"], thread["id"]) for m in messages]
    await in_db(gw.db.save_objects, rows)
    return answer(request, thread)


async def get_thread(request: web.Request) -> web.Response:
    key = await authorized(request)
    return answer(request, await owned(request, "thread", request.match_info["thread_id"], key, "thread_id"))


async def modify_thread(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    body, _ = await read_json(request)
    if "metadata" in body:
        thread["metadata"] = params.metadata(body) or {}
    if "tool_resources" in body:
        thread["tool_resources"] = params.tool_resources(body) or {}
        await check_resources(gw, thread["tool_resources"], key.account_id)
    await in_db(gw.db.replace_object, "thread", thread, key.account_id)
    return answer(request, thread)


async def delete_thread(request: web.Request) -> web.Response:
    return await _delete(request, "thread", "thread_id", "thread.deleted")


# -- messages -------------------------------------------------------------------------------------
async def create_message(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    body, _ = await read_json(request)
    message = objects.message(body, thread["id"])
    await check_message_files(gw, [message], key.account_id, "")
    active = await in_db(gw.db.active_run, thread["id"])
    if active is not None:
        raise bad_request(
            f"Can't add messages to {thread['id']} while a run {active} is active.",
            param="thread_id",
            code="thread_busy",
        )
    await in_db(
        gw.db.save_object, "message", message, key.account_id, parent_id=thread["id"], thread_id=thread["id"]
    )
    return answer(request, message)


async def list_messages(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = await authorized(request)
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    page = page_of(request)
    data, more = await in_db(gw.db.list_objects, "message", key.account_id, page, parent_id=thread["id"])
    return answer(request, objects.listing(data, more))


async def _message(request: web.Request, key: KeyRow) -> dict[str, Any]:
    thread = await owned(request, "thread", request.match_info["thread_id"], key, "thread_id")
    message = await owned(request, "message", request.match_info["message_id"], key, "message_id")
    if message["thread_id"] != thread["id"]:
        raise not_found(f"No message found with id '{message['id']}'.", param="message_id")
    return message


async def get_message(request: web.Request) -> web.Response:
    key = await authorized(request)
    return answer(request, await _message(request, key))


async def modify_message(request: web.Request) -> web.Response:
    key = await authorized(request)
    message = await _message(request, key)
    body, _ = await read_json(request)
    if "metadata" in body:
        message["metadata"] = params.metadata(body) or {}
    await in_db(request.app[GATEWAY].db.replace_object, "message", message, key.account_id)
    return answer(request, message)


async def delete_message(request: web.Request) -> web.Response:
    key = await authorized(request)
    message = await _message(request, key)
    await in_db(request.app[GATEWAY].db.delete_object, "message", message["id"], key.account_id)
    return answer(request, {"id": message["id"], "object": "thread.message.deleted", "deleted": True})


ROUTES = [
    ("POST", "/assistants", create_assistant),
    ("GET", "/assistants", list_assistants),
    ("GET", "/assistants/{assistant_id}", get_assistant),
    ("POST", "/assistants/{assistant_id}", modify_assistant),
    ("DELETE", "/assistants/{assistant_id}", delete_assistant),
    ("POST", "/threads", create_thread),
    ("GET", "/threads/{thread_id}", get_thread),
    ("POST", "/threads/{thread_id}", modify_thread),
    ("DELETE", "/threads/{thread_id}", delete_thread),
    ("POST", "/threads/{thread_id}/messages", create_message),
    ("GET", "/threads/{thread_id}/messages", list_messages),
    ("GET", "/threads/{thread_id}/messages/{message_id}", get_message),
    ("POST", "/threads/{thread_id}/messages/{message_id}", modify_message),
    ("DELETE", "/threads/{thread_id}/messages/{message_id}", delete_message),
]
