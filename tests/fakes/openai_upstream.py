"""A local fake of an OpenAI-compatible chat-completions server.

End-to-end tests of the gateway point a provider at this fake instead of a real
upstream (OpenAI, vLLM, DeepSeek, Ollama all speak this protocol), so the fake
speaks the exact wire format and lets tests provoke upstream failures.

Deterministic behaviour (tests may rely on it):

* Text answer: ``"echo: " + <text of the last user message>`` (list contents:
  the ``text`` parts joined by a single space).
* Tool call: when the request has function ``tools`` and ``tool_choice`` names a
  function or is ``"required"``, or (with ``tool_choice`` absent/``"auto"``) the
  last user message contains ``call tool`` (case-insensitive), the answer is a
  call to the named (else the first) function with arguments ``{"city": "Paris"}``.
  ``tool_choice: "none"`` always yields text.
* Streaming splits the generated text (answer text, or the tool-call arguments)
  into pieces of ``CHUNK_CHARS`` characters, one piece per chunk.
* Usage: ``prompt_tokens`` = whitespace-separated words over all message text
  contents (string contents and ``text`` parts); ``completion_tokens`` = number of
  pieces the generated text is streamed in (the same number for non-streamed
  answers); ``total_tokens`` = the sum.

The media endpoints (images, speech, transcriptions) are described in tests/fakes/openai_media.py,
the Videos API (Sora) in tests/fakes/openai_videos.py.

Run by hand: ``python -m tests.fakes.openai_upstream --port 9999`` (from the repo root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.shared import ErrorObject
from pydantic import BaseModel

from tests.fakes.sdk_fidelity import FidelityError, checked

__all__ = [
    "CHUNK_CHARS",
    "MODEL_ID",
    "STRICT_ENV",
    "TOOL_ARGUMENTS",
    "FakeOpenAIUpstream",
    "FidelityError",
    "main",
]

CHUNK_CHARS: Final = 4
"""Characters of generated text per streamed chunk (also the completion-token rule)."""

MODEL_ID: Final = "fake-model"
"""The one model `GET /v1/models` lists; chat requests may name any model."""

TOOL_ARGUMENTS: Final = json.dumps({"city": "Paris"})
"""Arguments of every tool call the fake makes: ``{"city": "Paris"}``."""

STRICT_ENV: Final = "OMNIGATE_FAKE_UPSTREAM_STRICT"
"""Env var read when ``strict`` is not given: ``0``/``false``/``no``/``off`` disables checks."""

_SYSTEM_FINGERPRINT: Final = "fp_omnigate_fake"
_MODEL_CREATED: Final = 1_700_000_000
_EVENT_STREAM: Final = "text/event-stream; charset=utf-8"

# status -> (message, type, code); modelled on what api.openai.com answers.
_ERRORS: Final[dict[int, tuple[str, str, str]]] = {
    400: ("fake upstream rejected the request", "invalid_request_error", "invalid_request"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("fake upstream: permission denied", "invalid_request_error", "permission_denied"),
    404: ("fake upstream: not found", "invalid_request_error", "not_found"),
    429: ("fake upstream: rate limit reached", "requests", "rate_limit_exceeded"),
    500: ("fake upstream: the server had an error", "server_error", "server_error"),
    502: ("fake upstream: bad gateway", "server_error", "bad_gateway"),
    503: ("fake upstream: overloaded, try again later", "server_error", "service_unavailable"),
}

# Queued failures only the Responses endpoint plays: its stream ends with response.failed, or
# with an `error` event.
STREAM_EVENT_FAILURES: Final = ("failed_event", "error_event")

# As api.openai.com limits uploads (audio files may be 25 MB).
_MAX_BODY: Final = 32 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (fake, request, body, queued action) -> the reply of one generation endpoint.
Answer = Callable[
    ["FakeOpenAIUpstream", web.Request, dict[str, Any], "int | str | None"], Awaitable[web.StreamResponse]
]


class _UpstreamError(Exception):
    """Raised inside handlers to answer with an OpenAI-shaped error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type_ = type_
        self.code = code
        self.param = param


def _checked(obj: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Validate ``obj`` against an official SDK type (tests/fakes/sdk_fidelity.py) and return
    it unchanged."""
    checked(obj, model, model.__name__)
    return obj


def _checked_error(body: dict[str, Any]) -> dict[str, Any]:
    # The SDK takes body["error"] and reads message/type/param/code from it.
    if set(body) != {"error"} or not isinstance(body["error"], dict):
        raise FidelityError(f"error body must be exactly {{'error': {{...}}}}: {body}")
    _checked(body["error"], ErrorObject)
    if not isinstance(body["error"].get("message"), str) or not body["error"]["message"]:
        raise FidelityError(f"error body needs a non-empty error.message: {body}")
    return body


def _error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _masked(key: str) -> str:
    """A key as OpenAI quotes it in a 401: its first 7 and last 4 characters."""
    if len(key) <= 11:
        return "*" * len(key)
    return key[:7] + "*" * (len(key) - 11) + key[-4:]


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    # Details blocks mirror what OpenAI sends today; gateways that bill cached
    # tokens read prompt_tokens_details.cached_tokens.
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _strict_default() -> bool:
    return os.environ.get(STRICT_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


class _Plan:
    """What the fake will answer to one valid chat request."""

    __slots__ = ("model", "prompt_tokens", "text", "tool_name")

    def __init__(self, body: dict[str, Any]) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _UpstreamError(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _UpstreamError(
                400,
                "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                code="empty_array",
                param="messages",
            )
        if not all(isinstance(m, dict) for m in messages):
            raise _UpstreamError(400, "Invalid type for 'messages'.", param="messages")
        if body.get("stream_options") is not None and not body.get("stream"):
            # OpenAI and vLLM both refuse this, so a gateway must not forward it.
            raise _UpstreamError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        self.model = model
        self.prompt_tokens = sum(len(_text_of(m.get("content")).split()) for m in messages)
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        self.tool_name = self._pick_tool(body, last_user)
        self.text = "echo: " + last_user

    @staticmethod
    def _pick_tool(body: dict[str, Any], last_user: str) -> str | None:
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        if choice is not None and not tools:
            raise _UpstreamError(
                400,
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                param="tool_choice",
            )
        names = [
            t["function"]["name"]
            for t in tools
            if isinstance(t, dict)
            and t.get("type") == "function"
            and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str)
        ]
        if not names or choice == "none":
            return None
        if isinstance(choice, dict) and choice.get("type") == "function":
            wanted = (choice.get("function") or {}).get("name")
            if wanted not in names:
                raise _UpstreamError(
                    400,
                    f"Invalid value for 'tool_choice': function '{wanted}' is not in 'tools'.",
                    param="tool_choice",
                )
            return str(wanted)
        if choice == "required" or "call tool" in last_user.lower():
            return names[0]
        return None

    @property
    def generated(self) -> str:
        """The text that is streamed in pieces: answer text or tool-call arguments."""
        return TOOL_ARGUMENTS if self.tool_name else self.text

    @property
    def completion_tokens(self) -> int:
        return len(_pieces(self.generated))


class FakeOpenAIUpstream:
    """An aiohttp server on 127.0.0.1 that answers like OpenAI's chat-completions API, its
    Responses API (tests/fakes/openai_responses.py), its media endpoints
    (tests/fakes/openai_media.py) and its Videos API (tests/fakes/openai_videos.py).

    Knobs tests set between requests: ``fail_next`` (queue of failures, one popped per
    generation request: an int HTTP status, ``"hang"``, ``"disconnect"``, ``"midstream"``,
    ``"malformed"`` (a chat stream whose third event is not JSON), or
    for Responses streams one of ``STREAM_EVENT_FAILURES``), ``chunk_delay`` and
    ``hang_seconds``. Observations: ``requests`` (with their ``paths``; a multipart request is
    recorded as its form, files as ``FormFile``), ``headers``, ``stream_cancelled``,
    ``fidelity_errors``, ``images`` (the PNGs served at the URLs of image answers) and ``videos``
    (the video jobs by id).
    """

    def __init__(
        self,
        *,
        api_key: str | None = "sk-fake",
        strict: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.strict = _strict_default() if strict is None else strict
        self.host = host
        self.requested_port = port
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []  # the path of each recorded request
        # Keys lower-cased so lookups do not depend on how the client cased them.
        self.headers: list[dict[str, str]] = []
        self.fail_next: list[int | str] = []
        self.chunk_delay: float = 0.0
        self.hang_seconds: float = 30.0
        self.stream_cancelled = asyncio.Event()
        self.fidelity_errors: list[str] = []
        self.images: dict[str, bytes] = {}  # name -> PNG, served at /v1/generated/<name>
        self.videos: dict[str, Any] = {}  # id -> openai_videos.VideoJob
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = False
        # Handlers still running; stop() cancels them so a "hang" cannot stall teardown.
        self._inflight: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind on ``host:port`` (port 0 = a free one) in the running event loop."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAIUpstream already started")
        # Imported here: that module builds on this one's helpers.
        from tests.fakes import openai_media, openai_videos

        app = web.Application(middlewares=[self._middleware], client_max_size=_MAX_BODY)
        serve_image = functools.partial(openai_media.serve_image, self)
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_post(f"{prefix}/responses", self._responses)
            app.router.add_get(f"{prefix}/models", self._models)
            for path, (answer, read) in openai_media.ENDPOINTS.items():
                app.router.add_post(prefix + path, functools.partial(self._serve, answer=answer, read=read))
            app.router.add_get(prefix + "/generated/{name}", serve_image)
            for method, path, answer, read in openai_videos.ROUTES:
                app.router.add_route(
                    method, prefix + path, functools.partial(self._serve, answer=answer, read=read)
                )
        # handler_cancellation: a client that hangs up cancels the handler, which is
        # how a disconnect during a chunk_delay sleep or a "hang" is noticed at once.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._stopping = False

    async def stop(self) -> None:
        """Cancel in-flight handlers and close the server; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        tasks = [t for t in self._inflight if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()

    async def __aenter__(self) -> FakeOpenAIUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeOpenAIUpstream not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what an OpenAI client takes as base_url."""
        return f"http://{self.host}:{self.port}/v1"

    def reset(self) -> None:
        """Forget recorded traffic and pending knobs (for fixtures shared across tests)."""
        self.requests.clear()
        self.paths.clear()
        self.headers.clear()
        self.fail_next.clear()
        self.fidelity_errors.clear()
        self.images.clear()
        self.videos.clear()
        self.chunk_delay = 0.0
        self.stream_cancelled.clear()

    # ------------------------------------------------------------------ plumbing

    def _check(self, obj: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
        return _checked(obj, model) if self.strict else obj

    def _error(
        self,
        status: int,
        message: str | None = None,
        *,
        type_: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> web.Response:
        """An OpenAI-shaped error; without ``message`` the canned one for ``status``."""
        if message is None:
            message, default_type, code = _ERRORS.get(
                status,
                (
                    f"fake upstream error {status}",
                    "server_error" if status >= 500 else "invalid_request_error",
                    f"http_{status}",
                ),
            )
            type_ = type_ or default_type
        body = _error_body(message, type_ or "invalid_request_error", code, param)
        if self.strict:
            _checked_error(body)
        return web.Response(
            status=status,
            body=orjson.dumps(body),
            content_type="application/json",
            headers={"x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await handler(request)
        except _UpstreamError as exc:
            return self._error(exc.status, exc.message, type_=exc.type_, code=exc.code, param=exc.param)
        except FidelityError as exc:
            # Keep the evidence for the test and answer with something the
            # gateway surfaces loudly instead of a silently wrong payload.
            self.fidelity_errors.append(str(exc))
            body = _error_body(f"fake upstream fidelity check failed: {exc}", "server_error", None)
            return web.json_response(body, status=500)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            # OpenAI answers unknown routes with a JSON error, not aiohttp's text page.
            return self._error(
                exc.status,
                f"Invalid URL ({request.method} {request.path})",
                type_="invalid_request_error",
                code=None,
            )
        finally:
            if task is not None:
                self._inflight.discard(task)

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == (f"Bearer {self.api_key}")

    def _unauthorized(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if not given:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return self._error(401, message, type_="invalid_request_error", code=None)
        # As api.openai.com does: the wrong key quoted back, half masked, and where to find one.
        message = (
            f"Incorrect API key provided: {_masked(given.removeprefix('Bearer '))}. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        )
        return self._error(401, message, type_="invalid_request_error", code="invalid_api_key")

    # ------------------------------------------------------------------ handlers

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._unauthorized(request)
        model = self._check(
            {"id": MODEL_ID, "object": "model", "created": _MODEL_CREATED, "owned_by": "omnigate"},
            Model,
        )
        return web.Response(
            body=orjson.dumps({"object": "list", "data": [model]}),
            content_type="application/json",
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, answer=FakeOpenAIUpstream._answer_chat)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        # Imported here: that module builds on this one's helpers.
        from tests.fakes.openai_responses import answer_responses

        return await self._serve(request, answer=answer_responses)

    async def _serve(
        self, request: web.Request, *, answer: Answer, read: BodyReader | None = None
    ) -> web.StreamResponse:
        """What every generation endpoint does first: record the request, play the next queued
        failure, check the body (`read`; by default a JSON object) and the key; then `answer`
        builds the reply."""
        body = await (read or read_json_body)(request)
        if isinstance(body, dict):
            # Recorded before any failure so retry tests can count attempts.
            self.requests.append(body)
            self.paths.append(request.path)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
        action = self.fail_next.pop(0) if self.fail_next else None

        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
            action = None
        if action == "disconnect":
            _hang_up(request)
            return web.Response()  # never written: the transport is already closed
        if isinstance(action, int) and not isinstance(action, bool):
            return self._error(action)
        if action not in (None, "midstream", "malformed", *STREAM_EVENT_FAILURES):
            raise _UpstreamError(
                500, f"fake upstream: unknown fail_next item {action!r}", type_="server_error"
            )

        if isinstance(body, _UpstreamError):
            raise body
        if not self._authorized(request):
            return self._unauthorized(request)
        return await answer(self, request, body, action)

    async def _answer_chat(
        self, request: web.Request, body: dict[str, Any], action: int | str | None
    ) -> web.StreamResponse:
        stream = body.get("stream") is True
        plan = _Plan(body)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if stream:
            options = body.get("stream_options") or {}
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            chunks = self._chunks(plan, completion_id, created, include_usage=include_usage)
            events = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks]
            if action == "malformed":  # what a proxy that mangles a stream sends
                events[2:2] = [b'data: {"id": "chatcmpl-x", "choices": [{"delta": \n\n']
            events.append(b"data: [DONE]\n\n")
            return await self.send_stream(request, events, midstream=action == "midstream")
        return await send_json(request, self._completion(plan, completion_id, created), action)

    # ------------------------------------------------------------------ payloads

    def _completion(self, plan: _Plan, completion_id: str, created: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if plan.tool_name else plan.text,
            "refusal": None,
            "annotations": [],
        }
        if plan.tool_name:
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": plan.tool_name, "arguments": TOOL_ARGUMENTS},
                }
            ]
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": plan.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if plan.tool_name else "stop",
                }
            ],
            "usage": _usage(plan.prompt_tokens, plan.completion_tokens),
            "service_tier": "default",
            "system_fingerprint": _SYSTEM_FINGERPRINT,
        }
        return self._check(completion, ChatCompletion)

    def _chunks(
        self, plan: _Plan, completion_id: str, created: int, *, include_usage: bool
    ) -> list[dict[str, Any]]:
        """Every chunk of one stream, built (and checked) before the first byte is sent."""

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": plan.model,
                "service_tier": "default",
                "system_fingerprint": _SYSTEM_FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                # OpenAI puts "usage": null on every chunk but the extra last one.
                out["usage"] = None
            return out

        chunks: list[dict[str, Any]] = []
        if plan.tool_name:
            # As OpenAI does: the first tool delta carries id/type/name and empty
            # arguments; later deltas carry only index and an arguments fragment.
            first_call = {
                "index": 0,
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": ""},
            }
            chunks.append(
                chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [first_call],
                        "refusal": None,
                    }
                )
            )
            for piece in _pieces(TOOL_ARGUMENTS):
                chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            chunks.append(chunk({}, "tool_calls"))
        else:
            chunks.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            chunks.extend(chunk({"content": piece}) for piece in _pieces(plan.text))
            chunks.append(chunk({}, "stop"))
        if include_usage:
            last = chunk({})
            last["choices"] = []
            last["usage"] = _usage(plan.prompt_tokens, plan.completion_tokens)
            chunks.append(last)
        return [self._check(c, ChatCompletionChunk) for c in chunks]

    async def send_stream(
        self, request: web.Request, events: list[bytes], *, midstream: bool
    ) -> web.StreamResponse:
        """Write encoded SSE events (``midstream``: hang up before the third)."""
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": _EVENT_STREAM,
                "Cache-Control": "no-cache",
                "x-request-id": f"req_{uuid.uuid4().hex}",
            },
        )
        await response.prepare(request)
        try:
            for i, event in enumerate(events):
                if midstream and i == 2:
                    _hang_up(request)
                    return response
                if i and self.chunk_delay > 0:
                    await asyncio.sleep(self.chunk_delay)
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError("client went away")
                await response.write(event)
            await response.write_eof()
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError included
            self._note_cancelled()
        except asyncio.CancelledError:
            self._note_cancelled()
            raise
        return response

    def _note_cancelled(self) -> None:
        # stop() cancelling a handler is not the client hanging up.
        if not self._stopping:
            self.stream_cancelled.set()


# Reads a request's body: the body, or the error to answer once any queued failure has played.
BodyReader = Callable[[web.Request], Awaitable["dict[str, Any] | _UpstreamError"]]


async def read_json_body(request: web.Request) -> dict[str, Any] | _UpstreamError:
    try:
        body: object = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        return body
    return _UpstreamError(
        400,
        "We could not parse the JSON body of your request. The OpenAI API expects "
        "a JSON payload (an object), but what was sent was not valid JSON.",
    )


def _hang_up(request: web.Request) -> None:
    # close() (not abort()) so bytes already written still reach the client before
    # the FIN; the client then sees a response (or chunked body) that never ends.
    transport = request.transport
    if transport is not None:
        transport.close()


async def send_json(
    request: web.Request, answer: dict[str, Any], action: int | str | None
) -> web.StreamResponse:
    """A 200 JSON answer (``"midstream"``: cut off halfway)."""
    return await send_bytes(request, orjson.dumps(answer), "application/json", action)


async def send_bytes(
    request: web.Request, payload: bytes, content_type: str, action: int | str | None
) -> web.StreamResponse:
    """A 200 answer of `payload` (``"midstream"``: cut off halfway)."""
    if action == "midstream":
        return await _send_truncated(request, payload, content_type)
    return web.Response(
        body=payload, headers={"Content-Type": content_type, "x-request-id": f"req_{uuid.uuid4().hex}"}
    )


async def _send_truncated(request: web.Request, payload: bytes, content_type: str) -> web.StreamResponse:
    """Non-stream "midstream": promise the full body, send half, then hang up."""
    response = web.StreamResponse(status=200, headers={"Content-Type": content_type})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    _hang_up(request)
    return response


# ---------------------------------------------------------------------- runner


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.openai_upstream --port 9999``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--api-key", default="sk-fake", help="key required as Bearer token")
    parser.add_argument("--no-auth", action="store_true", help="accept any or no key")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--no-strict", action="store_true", help="skip SDK fidelity checks")
    args = parser.parse_args(argv)

    async def serve() -> None:
        fake = FakeOpenAIUpstream(
            api_key=None if args.no_auth else args.api_key,
            strict=False if args.no_strict else None,
            host=args.host,
            port=args.port,
        )
        fake.chunk_delay = args.chunk_delay
        await fake.start()
        print(f"fake OpenAI upstream on {fake.base_url} (Ctrl-C to stop)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
