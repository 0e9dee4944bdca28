"""A local fake of Cohere's v2 Chat API (`POST /v2/chat`), checked against the official SDK.

Every request body it receives is validated as the v2 chat request (fidelity.check_request),
and every payload it sends as the SDK's response / stream-event / error types, so neither the
adapter nor the fake can drift from the real protocol unnoticed: a failed check is recorded in
`fidelity_errors` and answered with an error.

Deterministic behaviour (tests rely on it):

* Text answer: ``"echo: " + <text of the last user message>`` (text parts joined by a space).
* Tool call: when the request has ``tools`` and ``tool_choice == "REQUIRED"``, a call to the
  first tool with arguments ``{"city": "Paris"}``, id ``<name>_<hex>``, and the tool plan
  ``"I will call <name>."``; finish reason TOOL_CALL.
* Thinking: when ``thinking.type == "enabled"``, a thinking block ``"thinking about: <text>"``
  comes before the answer.
* Streaming splits text, thinking, plan and arguments into pieces of ``CHUNK_CHARS``.
* Usage: ``input_tokens`` = words over all message texts; ``output_tokens`` = pieces of the
  answer text or the arguments; ``billed_units`` the same; ``cached_tokens`` when set.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web

from tests.providers.cohere.fidelity import (
    FidelityError,
    check_error_body,
    check_request,
    check_response,
    check_stream_event,
)

CHUNK_CHARS: Final = 4
TOOL_ARGUMENTS: Final = json.dumps({"city": "Paris"})

# status -> message, modelled on what api.cohere.com answers.
ERRORS: Final[dict[int, str]] = {
    400: "invalid request: fake upstream rejected the request",
    401: "invalid api token",
    402: "Please add or update your payment method at https://dashboard.cohere.com/billing",
    404: "model 'missing' not found, make sure the correct model ID was used",
    422: "invalid request: unprocessable entity",
    429: "You are using a Trial key, which is limited to 10 API calls / minute.",
    499: "request cancelled",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable, try again later",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


class Plan:
    """What the fake answers to one valid request."""

    def __init__(self, body: dict[str, Any]) -> None:
        messages = body["messages"]
        last_user = next((_text_of(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")
        self.text = "echo: " + last_user
        tools = body.get("tools") or []
        self.tool_name: str | None = None
        if tools and body.get("tool_choice") == "REQUIRED":
            self.tool_name = tools[0]["function"]["name"]
        thinking = body.get("thinking") or {}
        self.thinking = f"thinking about: {last_user}" if thinking.get("type") == "enabled" else None
        self.input_tokens = sum(len(_text_of(m.get("content")).split()) for m in messages)
        self.call_id = f"{self.tool_name}_{uuid.uuid4().hex[:12]}"

    @property
    def plan(self) -> str:
        return f"I will call {self.tool_name}."

    @property
    def finish_reason(self) -> str:
        return "TOOL_CALL" if self.tool_name else "COMPLETE"

    def usage(self, cached_tokens: int | None) -> dict[str, Any]:
        output = len(pieces(TOOL_ARGUMENTS if self.tool_name else self.text))
        counts = {"input_tokens": self.input_tokens, "output_tokens": output}
        usage: dict[str, Any] = {"billed_units": dict(counts), "tokens": dict(counts)}
        if cached_tokens is not None:
            usage["cached_tokens"] = cached_tokens
        return usage


class FakeCohereUpstream:
    def __init__(self, *, api_key: str | None = "co-fake", host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self.host = host
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        # Items: an HTTP status (answered with Cohere's error body), "disconnect" (hang up
        # before answering), "midstream" (hang up after two events), "truncate" (end the
        # stream cleanly after two events), "stream-error"
        # (message-end carrying an error), "hang" (sleep hang_seconds first).
        self.fail_next: list[int | str] = []
        self.fidelity_errors: list[str] = []
        self.cached_tokens: int | None = None
        self.send_done = False  # end streams with `data: [DONE]` as some proxies do
        self.hang_seconds = 5.0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v2/chat", self._chat)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, the API root (the SDK and the adapter add /v2/chat)."""
        return f"http://{self.host}:{self._port}"

    # -- plumbing -------------------------------------------------------------------------

    def error(self, status: int, message: str | None = None) -> web.Response:
        body = check_error_body({"id": str(uuid.uuid4()), "message": message or ERRORS.get(status, "error")})
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except FidelityError as exc:
            self.fidelity_errors.append(str(exc))
            return self.error(422, f"fake upstream fidelity check failed: {exc}")
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            return self.error(exc.status, f"{request.method} {request.path} not found")

    # -- the endpoint ---------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self.error(400, "invalid request: body is not valid JSON")
        if not isinstance(body, dict):
            return self.error(400, "invalid request: body must be an object")
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        action = self.fail_next.pop(0) if self.fail_next else None
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
            action = None
        if action == "disconnect":
            _hang_up(request)
            return web.Response()
        if isinstance(action, int):
            return self.error(action)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.error(401)
        check_request(body)
        plan = Plan(body)
        response_id = str(uuid.uuid4())
        if body.get("stream") is True:
            return await self._stream(request, plan, response_id, action)
        return web.Response(
            body=orjson.dumps(check_response(self._response(plan, response_id))),
            content_type="application/json",
        )

    def _response(self, plan: Plan, response_id: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant"}
        content: list[dict[str, Any]] = []
        if plan.thinking:
            content.append({"type": "thinking", "thinking": plan.thinking})
        if plan.tool_name:
            message["tool_plan"] = plan.plan
            message["tool_calls"] = [
                {
                    "id": plan.call_id,
                    "type": "function",
                    "function": {"name": plan.tool_name, "arguments": TOOL_ARGUMENTS},
                }
            ]
        else:
            content.append({"type": "text", "text": plan.text})
        if content:
            message["content"] = content
        return {
            "id": response_id,
            "finish_reason": plan.finish_reason,
            "message": message,
            "usage": plan.usage(self.cached_tokens),
        }

    def events(self, plan: Plan, response_id: str, *, error: bool = False) -> list[dict[str, Any]]:
        """Every event of one stream, in order."""
        events: list[dict[str, Any]] = [
            {"type": "message-start", "id": response_id, "delta": {"message": {"role": "assistant"}}}
        ]
        index = 0

        def block(kind: str, text: str) -> None:
            nonlocal index
            start = {"content": {"type": kind, kind: ""}}
            events.append({"type": "content-start", "index": index, "delta": {"message": start}})
            for piece in pieces(text):
                delta = {"message": {"content": {kind: piece}}}
                events.append({"type": "content-delta", "index": index, "delta": delta})
            events.append({"type": "content-end", "index": index})
            index += 1

        if plan.thinking:
            block("thinking", plan.thinking)
        if error:
            block("text", plan.text[:CHUNK_CHARS])
            failed = {"finish_reason": "ERROR", "error": "internal error during generation"}
            events.append({"type": "message-end", "delta": failed})
            return events
        if plan.tool_name:
            for piece in pieces(plan.plan):
                events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
            call = {
                "id": plan.call_id,
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": ""},
            }
            events.append({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": call}}})
            for piece in pieces(TOOL_ARGUMENTS):
                delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
                events.append({"type": "tool-call-delta", "index": 0, "delta": delta})
            events.append({"type": "tool-call-end", "index": 0})
        else:
            block("text", plan.text)
        end = {"finish_reason": plan.finish_reason, "usage": plan.usage(self.cached_tokens)}
        events.append({"type": "message-end", "delta": end})
        return events

    async def _stream(
        self, request: web.Request, plan: Plan, response_id: str, action: int | str | None
    ) -> web.StreamResponse:
        events = [
            check_stream_event(e) for e in self.events(plan, response_id, error=action == "stream-error")
        ]
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for i, event in enumerate(events):
            if action == "midstream" and i == 2:
                _hang_up(request)
                return response
            if action == "truncate" and i == 2:
                break
            await response.write(b"event: %s\ndata: %s\n\n" % (event["type"].encode(), orjson.dumps(event)))
        if self.send_done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _hang_up(request: web.Request) -> None:
    # close(), not abort(): bytes already written still reach the client before the FIN.
    if request.transport is not None:
        request.transport.close()
