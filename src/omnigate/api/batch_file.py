"""The input file of an OpenAI batch: JSONL, one request a line,

    {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

checked whole before anything is stored, as the message batch's `requests` are: every line must
call the batch's `endpoint`, and its body must pass what the route's pipeline would check when it
runs (api/batches.py `check_runnable`), so a bad line refuses the batch with a 400 naming it
(`input_file_id line 3: body.model: ...`, param `input_file_id`).
"""

from __future__ import annotations

import orjson

from omnigate.api.batch_kinds import EntryKind
from omnigate.api.batches import check_count, check_runnable
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.gateway import Gateway

PARAM = "input_file_id"
# What the store keeps of a custom_id (batch_entries.custom_id).
CUSTOM_ID_MAX = 64


def _refuse(where: str, text: str) -> ApiError:
    return bad_request(f"{BODY_VALIDATION} {where}: {text}", param=PARAM)


def checked_lines(gw: Gateway, content: bytes, endpoint: str, kind: EntryKind) -> list[tuple[str, str]]:
    """(custom_id, body JSON) of each line, once every one is known to be runnable."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(PARAM, "the file is not UTF-8 text") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise _refuse(PARAM, "the file holds no requests (one JSON object a line)")
    check_count(gw, len(numbered), PARAM)
    seen: set[str] = set()
    checked = []
    for n, line in numbered:
        where = f"{PARAM} line {n}"
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise _refuse(where, "not valid JSON") from None
        if not isinstance(item, dict):
            raise _refuse(where, "Expected a JSON object")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not 0 < len(custom_id) <= CUSTOM_ID_MAX or "\x00" in custom_id:
            raise _refuse(where, f"custom_id: Expected a string of 1 to {CUSTOM_ID_MAX} characters")
        if custom_id in seen:
            raise _refuse(where, f"custom_id: {custom_id!r} is used twice; each must be unique")
        seen.add(custom_id)
        if item.get("method") != "POST":
            raise _refuse(where, 'method: Expected "POST"')
        if item.get("url") != endpoint:
            raise _refuse(where, f"url: Expected {endpoint!r}, the batch's endpoint")
        body = item.get("body")
        if not isinstance(body, dict):
            raise _refuse(where, "body: Expected object")
        if body.get("stream") not in (None, False):
            raise _refuse(where, "body.stream: the requests of a batch cannot stream")
        check_runnable(gw, body, kind.family, f"{where}: body", check=kind.check, param=PARAM)
        checked.append((custom_id, orjson.dumps(body).decode()))
    return checked
