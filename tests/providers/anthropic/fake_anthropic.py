"""A local fake of Anthropic's Messages API (`POST /v1/messages`), speaking its wire protocol.

Every request body is checked against the SDK's MessageCreateParams and against the rules the
real API enforces that the types cannot express; every payload sent back is checked against
the SDK's response types (sdk_check.py). A failed check answers 400/500 and is kept in
`fidelity_errors`, so tests see it.

Deterministic behaviour (tests rely on it):

* Text: ``"echo: " + <text of the last user turn>`` (text blocks joined by a space; a turn of
  tool results echoes the results' text).
* Tool use: when ``tools`` are given and ``tool_choice`` is ``any``/``tool``, or ``auto`` (or
  absent) and the last user text contains ``call tool``: a call to the named (else first) tool
  with input ``{"city": "Paris"}``.
* Thinking: with ``thinking.type == "enabled"``, a thinking block ``"thinking about: <text>"``
  comes first.
* Streaming splits the text, thinking and tool input into pieces of ``CHUNK_CHARS``.
* Usage: ``input_tokens`` = words of all text in system and messages; ``output_tokens`` =
  pieces generated; ``cache_read_input_tokens`` = the ``cache_read_tokens`` knob.
* ``stop_sequences`` and ``max_tokens`` (counted in pieces) cut the answer as Anthropic does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Final

import orjson
from aiohttp import web

from tests.providers.anthropic.sdk_check import (
    FidelityError,
    check_request,
    checked_error,
    checked_event,
    checked_message,
)

CHUNK_CHARS: Final = 4
TOOL_INPUT: Final = {"city": "Paris"}
API_KEY: Final = "sk-ant-fake"
# The version the adapter pins, and the one the installed SDK sends.
API_VERSIONS: Final = frozenset({"2023-06-01", "2026-10-21"})

# status → (error type, message); modelled on what api.anthropic.com answers.
ERRORS: Final[dict[int, tuple[str, str]]] = {
    400: ("invalid_request_error", "messages: fake upstream rejected the request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: fake-model-that-does-not-exist"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if block.get("type") == "text":
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            parts.append(_text(block.get("content", "")))
    return " ".join(parts)


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]


def _check_semantics(body: dict[str, Any]) -> None:
    """Rules of the real API that the SDK's types cannot express."""
    messages = body["messages"]
    if not messages or messages[0]["role"] != "user":
        raise _Refusal(400, 'messages: first message must use the "user" role')
    pending: set[str] = set()
    for i, message in enumerate(messages):
        if i and message["role"] == messages[i - 1]["role"]:
            raise _Refusal(400, f'messages.{i}: roles must alternate between "user" and "assistant"')
        blocks = message["content"] if isinstance(message["content"], list) else []
        if message["role"] == "user":
            results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
            if blocks[: len(results)] != [b for b in blocks if b["type"] == "tool_result"]:
                raise _Refusal(400, f"messages.{i}: tool_result blocks must come first")
            if set(results) != pending:
                raise _Refusal(
                    400, f"messages.{i}: tool_result ids {results} do not answer {sorted(pending)}"
                )
            pending = set()
        else:
            pending = {b["id"] for b in blocks if b["type"] == "tool_use"}
        for block in blocks:
            if block["type"] == "text" and not block["text"]:
                raise _Refusal(400, f"messages.{i}: text content blocks must be non-empty")
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled" and not 1024 <= thinking["budget_tokens"] < body["max_tokens"]:
        raise _Refusal(400, "thinking.budget_tokens: must be >= 1024 and less than max_tokens")
    if body.get("temperature", 0) > 1:
        raise _Refusal(400, "temperature: range: 0..1")
    names = [t["name"] for t in body.get("tools") or ()]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice["name"] not in names:
        raise _Refusal(400, f"tool_choice: tool {choice['name']!r} not found in tools")


class _Plan:
    """What the fake answers to one valid request."""

    def __init__(self, body: dict[str, Any], cache_read: int) -> None:
        last_user = next(m for m in reversed(body["messages"]) if m["role"] == "user")
        said = _text(last_user["content"])
        self.model = body["model"]
        words = len(_text(body.get("system") or "").split())
        self.input_tokens = words + sum(len(_text(m["content"]).split()) for m in body["messages"])
        self.cache_read = cache_read
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        self.thinking = f"thinking about: {said}" if thinking else None
        self.tool = self._tool(body, said)
        self.text = "echo: " + said
        self.stop_reason = "tool_use" if self.tool else "end_turn"
        self.stop_sequence: str | None = None
        for sequence in body.get("stop_sequences") or ():
            if not self.tool and sequence in self.text:
                self.text = self.text[: self.text.index(sequence)]
                self.stop_reason, self.stop_sequence = "stop_sequence", sequence
                break
        budget = body["max_tokens"]
        if len(_pieces(self.text)) > budget and not self.tool:
            self.text = self.text[: budget * CHUNK_CHARS]
            self.stop_reason, self.stop_sequence = "max_tokens", None
        self.tool_id = f"toolu_{uuid.uuid4().hex[:24]}"

    @staticmethod
    def _tool(body: dict[str, Any], said: str) -> str | None:
        names = [t["name"] for t in body.get("tools") or ()]
        choice = body.get("tool_choice") or {"type": "auto"}
        if not names or choice["type"] == "none":
            return None
        if choice["type"] == "tool":
            return str(choice["name"])
        if choice["type"] == "any" or "call tool" in said.lower():
            return names[0]
        return None

    @property
    def output_tokens(self) -> int:
        generated = [self.thinking or "", json.dumps(TOOL_INPUT) if self.tool else self.text]
        return sum(len(_pieces(g)) for g in generated)

    def usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def blocks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.thinking is not None:
            out.append({"type": "thinking", "thinking": self.thinking, "signature": "c2lnbmVk"})
        if self.tool:
            out.append({"type": "tool_use", "id": self.tool_id, "name": self.tool, "input": TOOL_INPUT})
        else:
            out.append({"type": "text", "text": self.text})
        return out


class FakeAnthropicUpstream:
    def __init__(self, *, api_key: str | None = API_KEY, host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self.host = host
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        # Items: an HTTP status (answered with Anthropic's error body), "error_event" (an
        # overloaded `error` event after the first text delta) or "truncate" (hang up there).
        self.fail_next: list[int | str] = []
        self.fidelity_errors: list[str] = []
        self.cache_read_tokens = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        """The host root, as Anthropic documents it (`https://api.anthropic.com`)."""
        return f"http://{self.host}:{self._port}"

    def _error(self, status: int, message: str | None = None) -> web.Response:
        kind, canned = ERRORS.get(status, ("api_error", f"fake upstream error {status}"))
        body = checked_error({"type": "error", "error": {"type": kind, "message": message or canned}})
        headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
        if status == 429:
            headers["retry-after"] = "7"
        return web.Response(
            status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
        )

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._error(400, "There was an issue with your request body: invalid JSON")
        self.requests.append(body)
        self.headers.append(headers)
        if "anthropic-version" not in headers:
            return self._error(400, "anthropic-version: header is required")
        if headers["anthropic-version"] not in API_VERSIONS:
            return self._error(400, f"anthropic-version: unknown version {headers['anthropic-version']!r}")
        # The API takes the key as x-api-key (what the adapter sends) or as a bearer token
        # (what the SDK 2.x sends).
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and given != self.api_key:
            return self._error(401)
        action = self.fail_next.pop(0) if self.fail_next else None
        if isinstance(action, int):
            return self._error(action)
        try:
            check_request(body)
            _check_semantics(body)
        except FidelityError as exc:
            self.fidelity_errors.append(str(exc))
            return self._error(400, f"fake upstream: request does not fit the SDK types: {exc}")
        except _Refusal as exc:
            return self._error(exc.status, exc.message)
        plan = _Plan(body, self.cache_read_tokens)
        try:
            if body.get("stream") is True:
                return await self._stream(request, plan, action)
            return web.json_response(self._message(plan), headers={"request-id": "req_fake"})
        except FidelityError as exc:
            self.fidelity_errors.append(str(exc))
            return self._error(500, f"fake upstream fidelity check failed: {exc}")

    def _message(self, plan: _Plan) -> dict[str, Any]:
        return checked_message(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": plan.model,
                "content": plan.blocks(),
                "stop_reason": plan.stop_reason,
                "stop_sequence": plan.stop_sequence,
                "usage": plan.usage(plan.output_tokens),
            }
        )

    def _events(self, plan: _Plan) -> list[dict[str, Any]]:
        start = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": plan.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": plan.usage(1),
        }
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for index, block in enumerate(plan.blocks()):
            kind = block["type"]
            if kind == "thinking":
                opening = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            elif kind == "tool_use":
                opening = {**block, "input": {}}
                # Anthropic opens tool input with an empty fragment.
                fragments = ["", *_pieces(json.dumps(block["input"]))]
                deltas = [{"type": "input_json_delta", "partial_json": p} for p in fragments]
            else:
                opening = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
            events.append({"type": "content_block_start", "index": index, "content_block": opening})
            if index == 0:
                events.append({"type": "ping"})
            events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
            events.append({"type": "content_block_stop", "index": index})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence},
                "usage": {"output_tokens": plan.output_tokens},
            }
        )
        events.append({"type": "message_stop"})
        return [checked_event(e) for e in events]

    async def _stream(self, request: web.Request, plan: _Plan, action: str | None) -> web.StreamResponse:
        events = self._events(plan)
        cut = next(i for i, e in enumerate(events) if e["type"] == "content_block_delta") + 1
        if action == "error_event":
            overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            events = [*events[:cut], checked_event(overloaded)]
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
        )
        await response.prepare(request)
        for i, event in enumerate(events):
            if action == "truncate" and i == cut:
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write(
                f"event: {event['type']}\n".encode() + b"data: " + orjson.dumps(event) + b"\n\n"
            )
            await asyncio.sleep(0)
        await response.write_eof()
        return response
