"""What differs between the requests of the two kinds of batch, and nothing else: the runner
(api/batch_entry.py) runs them all the same way, through the pipeline, charged once.

- a message batch's request: an Anthropic Messages request, answered as an Anthropic message,
  with Anthropic's `result` (`{"type": "succeeded", "message": ...}`);
- a line of an OpenAI batch's input file: a chat completion or embeddings request as the line's
  `body`, answered as the route would answer it, kept as the line of the output file
  (`{"response": {"status_code", "request_id", "body"}, "error": null}`) or of the error file
  (`{"response": null, "error": {"code", "message"}}`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from omnigate.api.batches import BATCHES, chat_body
from omnigate.api.chat import completion_chars, require_messages
from omnigate.api.chat_call import CHAT, EMBEDDINGS, complete_chat, estimated_usage
from omnigate.api.embeddings import embed
from omnigate.api.messages import answer_message
from omnigate.api.pipeline import Call, Family
from omnigate.catalog.loader import Model
from omnigate.errors import ApiError
from omnigate.providers.anthropic.inbound_stream import error_type
from omnigate.store.batch_rows import EntryRow

# (the result kept with the request, the OpenAI usage to charge, the answer it came from)
Answered = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EntryKind:
    family: Family
    generates: bool  # whether the worst case counts an answer's tokens (not for embeddings)
    body: Callable[[dict], dict]  # the pipeline's body, from the request as stored
    answer: Callable[[Call, EntryRow], Awaitable[Answered]]
    failed: Callable[[ApiError], dict[str, Any]]  # the result of a request that failed
    check: Callable[[Model, dict], None] | None = None  # what the route checks before its rules


async def _message(call: Call, entry: EntryRow) -> Answered:
    message, usage, completion = await answer_message(call, tuple(call.body.get("stop") or ()))
    return {"type": "succeeded", "message": message}, usage, completion


def _message_failed(err: ApiError) -> dict[str, Any]:
    error = {"type": "error", "error": {"type": error_type(err.status), "message": err.message}}
    return {"type": "errored", "error": error}


def _response(entry: EntryRow, body: dict) -> dict[str, Any]:
    return {"response": {"status_code": 200, "request_id": entry.request_id, "body": body}, "error": None}


async def _chat(call: Call, entry: EntryRow) -> Answered:
    completion = await complete_chat(call)
    usage = completion.get("usage") or estimated_usage(call, completion_chars(completion) // 4)
    completion["model"] = call.served_model
    completion.setdefault("usage", usage)
    return _response(entry, completion), usage, completion


async def _embeddings(call: Call, entry: EntryRow) -> Answered:
    result = await embed(call)
    usage = result.get("usage") or estimated_usage(call, 0)
    result.setdefault("usage", usage)
    return _response(entry, result), usage, result


def openai_failed(err: ApiError) -> dict[str, Any]:
    return {"response": None, "error": {"code": err.code or error_type(err.status), "message": err.message}}


MESSAGES_KIND = EntryKind(BATCHES, True, chat_body, _message, _message_failed)
# The routes an OpenAI batch's lines may call, by their `url`.
OPENAI_KINDS: dict[str, EntryKind] = {
    CHAT.endpoint: EntryKind(CHAT, True, dict, _chat, openai_failed, require_messages),
    EMBEDDINGS.endpoint: EntryKind(EMBEDDINGS, False, dict, _embeddings, openai_failed),
}


def kind_of(entry: EntryRow) -> EntryKind:
    return MESSAGES_KIND if entry.endpoint is None else OPENAI_KINDS[entry.endpoint]
