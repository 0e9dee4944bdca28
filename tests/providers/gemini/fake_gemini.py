"""A local fake of Google's Gemini API (`generateContent`, `streamGenerateContent`).

Speaks the REST protocol of generativelanguage.googleapis.com: `POST /v1beta/models/{model}:
generateContent` and `:streamGenerateContent?alt=sse` (without `alt=sse`: a JSON array), the key in
`x-goog-api-key` (or `?key=`), Google's error bodies. Every request body is checked against the
official SDK types (sdk_checks.py) and so is every answer it builds.

Deterministic behaviour (tests rely on it):

* Text: ``"echo: " + <text parts of the last user turn, joined by a space>``; a last user turn of
  function responses answers ``"echo: " + <json of the first response>``.
* Function call: when the request declares functions and ``toolConfig.functionCallingConfig.mode``
  is ``ANY``: a call to the first allowed (else first declared) function with args
  ``{"city": "Paris"}`` and a thoughtSignature of ``base64("sig:" + name)``.
* ``generationConfig.thinkingConfig.includeThoughts``: a first part ``{"text": THOUGHT, "thought":
  true}``.
* A last user text containing ``blocked prompt``: no candidates, ``promptFeedback.blockReason``.
* Streaming sends the text in pieces of ``CHUNK_CHARS`` characters, one event each; usage counts
  whitespace words of all prompt text, one completion token per piece, thoughts likewise.
* ``maxOutputTokens`` smaller than the piece count cuts the answer there (``MAX_TOKENS``).
* Models named ``gemini-3*`` refuse a replayed function call without its thoughtSignature.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any, Final

import orjson
from aiohttp import web

from tests.providers.gemini.sdk_checks import FidelityError, check_request, check_response

CHUNK_CHARS: Final = 4
THOUGHT: Final = "thinking it over"
TOOL_ARGS: Final = {"city": "Paris"}

# status → (gRPC status, message): what the real API says.
_ERRORS: Final = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}


class GoogleApiError(Exception):
    def __init__(self, status: int, message: str | None = None, details: list | None = None) -> None:
        grpc, default = _ERRORS.get(status, ("UNKNOWN", "error"))
        super().__init__(message or default)
        self.body = {"error": {"code": status, "message": message or default, "status": grpc}}
        if details:
            self.body["error"]["details"] = details
        self.status = status


def signature(name: str) -> str:
    return base64.b64encode(f"sig:{name}".encode()).decode()


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


def _words(content: dict) -> int:
    return sum(len(p["text"].split()) for p in content.get("parts") or () if isinstance(p.get("text"), str))


class _Plan:
    """What the fake answers to one valid request."""

    def __init__(self, model: str, body: dict) -> None:
        contents: list[dict] = body.get("contents") or []
        if not contents:
            raise GoogleApiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
        _check_turns(model, contents)
        self.model = model
        system = body.get("systemInstruction")
        self.prompt_tokens = sum(_words(c) for c in contents) + (_words(system) if system else 0)
        last = next((c for c in reversed(contents) if c["role"] == "user"), {"parts": []})
        texts = [p["text"] for p in last["parts"] if "text" in p]
        responses = [p["functionResponse"]["response"] for p in last["parts"] if "functionResponse" in p]
        said = " ".join(texts)
        self.text = "echo: " + (said if texts or not responses else json.dumps(responses[0]))
        self.blocked = "blocked prompt" in said.lower()
        config = body.get("generationConfig") or {}
        thinking = config.get("thinkingConfig") or {}
        wants = thinking.get("includeThoughts") or thinking.get("include_thoughts")  # SDK: snake_case
        self.thought = THOUGHT if wants else None
        self.candidates = int(config.get("candidateCount") or 1)
        self.limit = config.get("maxOutputTokens")
        self.tool = _pick_tool(body)

    def pieces(self) -> list[str]:
        return _pieces(self.text)[: self.limit] if self.limit else _pieces(self.text)

    def finish(self) -> str:
        return "MAX_TOKENS" if not self.tool and len(self.pieces()) < len(_pieces(self.text)) else "STOP"

    def usage(self, *, final: bool = True) -> dict[str, Any]:
        out = {"promptTokenCount": self.prompt_tokens, "totalTokenCount": self.prompt_tokens}
        if self.blocked or not final:
            return out
        completion = 1 if self.tool else len(self.pieces())
        thoughts = len(_pieces(self.thought)) if self.thought else 0
        out["candidatesTokenCount"] = completion
        if thoughts:
            out["thoughtsTokenCount"] = thoughts
        out["totalTokenCount"] = self.prompt_tokens + completion + thoughts
        return out

    def call_part(self) -> dict[str, Any]:
        assert self.tool is not None
        return {
            "functionCall": {"name": self.tool, "args": TOOL_ARGS},
            "thoughtSignature": signature(self.tool),
        }


def _check_turns(model: str, contents: list[dict]) -> None:
    for i, content in enumerate(contents):
        calls = [p for p in content["parts"] if "functionCall" in p]
        answers = [p for p in content["parts"] if "functionResponse" in p]
        if answers:
            previous = contents[i - 1] if i else {"parts": []}
            expected = sum("functionCall" in p for p in previous["parts"])
            if expected != len(answers):
                raise GoogleApiError(
                    400,
                    "Please ensure that the number of function response parts is equal to the number "
                    "of function call parts of the function call turn.",
                )
        if model.startswith("gemini-3") and calls and "thoughtSignature" not in calls[0]:
            raise GoogleApiError(
                400,
                f"Function call is missing a thought_signature in functionCall parts. Position in "
                f"contents: {i}, in parts: 0.",
            )


def _pick_tool(body: dict) -> str | None:
    names = [d["name"] for t in body.get("tools") or () for d in t.get("functionDeclarations") or ()]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if not names or calling.get("mode") != "ANY":
        return None
    allowed = calling.get("allowedFunctionNames") or names
    return str(allowed[0])


class FakeGeminiUpstream:
    def __init__(
        self,
        *,
        api_key: str | None = "g-fake",
        host: str = "127.0.0.1",
        port: int = 0,
        camel_only: bool = True,
    ) -> None:
        self.api_key = api_key
        # The real API also reads snake_case names; by default the fake holds callers to camelCase.
        self.camel_only = camel_only
        self.host = host
        self.port = port
        # Received bodies (before any failure, so retry tests can count attempts) and their URLs.
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        # Items: an HTTP status (answered with Google's error body), "midstream" (hang up after
        # two events), "stream_error" (an error event after one event), "stream_error_first",
        # "disconnect" (hang up before answering), "hang" (wait hang_seconds, then answer).
        self.fail_next: list[int | str] = []
        self.hang_seconds = 5.0
        # When set, a stream pauses after its first event until the test sets this event: what
        # follows then surely reaches the client in a later read than the first chunk.
        self.hold_after_first: asyncio.Event | None = None
        self.fidelity_errors: list[str] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1beta/models/{target}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._answer(request)
        except GoogleApiError as exc:
            return web.json_response(exc.body, status=exc.status)
        except FidelityError as exc:
            # Kept for the test to assert on; Google answers unknown fields with a 400.
            self.fidelity_errors.append(str(exc))
            return web.json_response(GoogleApiError(400, str(exc)).body, status=400)

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["target"].partition(":")
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            self.requests.append(body)
            self.paths.append(request.path_qs)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
        action = self.fail_next.pop(0) if self.fail_next else None
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
        elif action == "disconnect":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        elif isinstance(action, int):
            details = None
            if action == 429:
                details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
            raise GoogleApiError(action, details=details)
        self._authorize(request)
        if method not in ("generateContent", "streamGenerateContent"):
            raise GoogleApiError(404, f"Method {method!r} is not found.")
        if not model.startswith("gemini-"):
            raise GoogleApiError(
                404,
                f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
                "Call ListModels to see the list of available models and their supported methods.",
            )
        check_request(body, camel_only=self.camel_only)
        assert isinstance(body, dict)
        plan = _Plan(model, body)
        events = [check_response(e) for e in self._events(plan, stream=method != "generateContent")]
        if method == "generateContent":
            return web.json_response(events[0])
        if request.query.get("alt") != "sse":
            return web.json_response(events)
        return await self._send_sse(request, events, action)

    def _authorize(self, request: web.Request) -> None:
        given = request.headers.get("x-goog-api-key") or request.query.get("key")
        if self.api_key is None or given == self.api_key:
            return
        if not given:
            raise GoogleApiError(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
        raise GoogleApiError(400, "API key not valid. Please pass a valid API key.", details=[info])

    def _events(self, plan: _Plan, *, stream: bool) -> list[dict[str, Any]]:
        """The whole answer as one response, or as the events of a stream."""
        head = {"modelVersion": plan.model, "responseId": uuid.uuid4().hex[:22]}
        if plan.blocked:
            return [{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": plan.usage(), **head}]
        if plan.tool:
            steps = [[plan.call_part()]]
        elif stream:
            steps = [[{"text": piece}] for piece in plan.pieces()]
        else:
            steps = [[{"text": "".join(plan.pieces())}]]
        if plan.thought:
            thought = {"text": plan.thought, "thought": True}
            steps = [[thought], *steps] if stream else [[thought, *steps[0]]]
        events = []
        for number, parts in enumerate(steps, start=1):
            final = number == len(steps)
            candidates = []
            for index in range(plan.candidates):
                candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
                if final:
                    candidate["finishReason"] = plan.finish()
                candidate["index"] = index
                candidates.append(candidate)
            events.append({"candidates": candidates, "usageMetadata": plan.usage(final=final), **head})
        return events

    async def _send_sse(self, request: web.Request, events: list[dict], action: object) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        error = GoogleApiError(500).body
        if action == "stream_error_first":
            events = [error]
        elif action == "stream_error":
            events = [*events[:1], error]
        for i, event in enumerate(events):
            if action == "midstream" and i == 2:
                assert request.transport is not None
                request.transport.close()  # bytes already written still arrive before the FIN
                return response
            # Google ends each event with CRLF pairs.
            await response.write(b"data: " + orjson.dumps(event) + b"\r\n\r\n")
            if i == 0 and self.hold_after_first is not None:
                await self.hold_after_first.wait()
        await response.write_eof()
        return response
