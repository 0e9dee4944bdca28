"""What a client learns of an upstream's failure, for every protocol adapter: the kind of failure,
never the upstream's words about the gateway's credentials nor its hosts; the log keeps them whole."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import aiohttp
import orjson
import pytest

from omnigate.errors import ApiError
from omnigate.providers.anthropic import errors as anthropic
from omnigate.providers.anthropic.stream import StreamTranslator as AnthropicTranslator
from omnigate.providers.base import StreamBroken, UpstreamFailure
from omnigate.providers.cohere import errors as cohere
from omnigate.providers.cohere.stream import ChunkTranslator as CohereTranslator
from omnigate.providers.gemini import errors as gemini
from omnigate.providers.gemini.stream import StreamTranslator as GeminiTranslator
from omnigate.providers.openai_compat import errors as openai_compat
from omnigate.providers.openai_compat.client import OpenAICompatProvider
from omnigate.providers.openai_compat.stream import SSEChunkStream, SSEResponseEventStream
from omnigate.responses.native import adopt

KEY = "sk-upstream-secret"
HOST = "10.0.0.5:8443"
# What OpenAI answers a wrong key with, plus the proxy host some upstreams name.
LEAK = f"Incorrect API key provided: {KEY} (via {HOST})"
LEAKED = (KEY, HOST, "Incorrect API key provided")

FailureForStatus = Callable[[str, int, bytes, str | None], UpstreamFailure]


def openai_body(status: int, message: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "code": None}})


def anthropic_body(status: int, message: str) -> bytes:
    kind = {v: k for k, v in anthropic.STATUS_OF_TYPE.items()}.get(status, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def gemini_body(status: int, message: str) -> bytes:
    return orjson.dumps({"error": {"code": status, "message": message, "status": "UNAVAILABLE"}})


def cohere_body(status: int, message: str) -> bytes:
    return orjson.dumps({"id": "9d3bd9b3", "message": message})


ADAPTERS: dict[str, tuple[FailureForStatus, Callable[[int, str], bytes]]] = {
    "openai": (openai_compat.failure_for_status, openai_body),
    "anthropic": (anthropic.failure_for_status, anthropic_body),
    "gemini": (gemini.failure_for_status, gemini_body),
    "cohere": (cohere.failure_for_status, cohere_body),
}

# status → what the client is told instead of the upstream's words.
SANITISED = {
    401: "Bad Gateway: provider 'primary' refused the gateway's credentials (401).",
    403: "Bad Gateway: provider 'primary' refused the gateway's credentials (403).",
    408: "Bad Gateway: provider 'primary' timed out (408).",
    429: "Too Many Requests: provider 'primary' rate limited the gateway (429).",
    500: "Bad Gateway: provider 'primary' had a server error (500).",
    503: "Bad Gateway: provider 'primary' is unavailable (503).",
}


def logged(caplog: pytest.LogCaptureFixture, *words: str) -> bool:
    """Whether one WARNING record names the provider and holds every one of `words`."""
    return any(
        r.levelno == logging.WARNING
        and "'primary'" in r.getMessage()
        and all(w in r.getMessage() for w in words)
        for r in caplog.records
    )


def assert_sanitised(error: ApiError) -> None:
    for word in LEAKED:
        assert word not in error.message


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("status", SANITISED)
def test_the_gateway_s_trouble_is_named_not_quoted(
    adapter: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    failure_for_status, body = ADAPTERS[adapter]
    failure = failure_for_status("primary", status, body(status, LEAK), "7" if status == 429 else None)
    assert failure.error.message == SANITISED[status]
    assert failure.retryable
    assert_sanitised(failure.error)
    assert logged(caplog, LEAK)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_429_keeps_its_retry_after(adapter: str) -> None:
    failure_for_status, body = ADAPTERS[adapter]
    failure = failure_for_status("primary", 429, body(429, LEAK), "7")
    assert failure.error.status == 429 and failure.error.headers == {"Retry-After": "7"}
    assert failure.retry_after == 7.0


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            lambda: anthropic.failure_for_status("primary", 402, anthropic_body(402, LEAK), None),
            "Bad Gateway: provider 'primary' refused the gateway's account (402).",
        ),
        (
            lambda: cohere.failure_for_status("primary", 402, cohere_body(402, LEAK), None),
            "Bad Gateway: provider 'primary' refused the gateway's billing (402).",
        ),
        (
            lambda: cohere.failure_for_status("primary", 498, cohere_body(498, LEAK), None),
            "Bad Gateway: provider 'primary' refused the gateway's credentials (498).",
        ),
        (
            lambda: gemini.failure_for_status(
                "primary",
                400,
                orjson.dumps(
                    {
                        "error": {
                            "code": 400,
                            "message": LEAK,
                            "status": "INVALID_ARGUMENT",
                            "details": [
                                {
                                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                    "reason": "API_KEY_INVALID",
                                }
                            ],
                        }
                    }
                ),
                None,
            ),
            "Bad Gateway: provider 'primary' refused the gateway's credentials (400).",
        ),
    ],
    ids=["anthropic-402", "cohere-402", "cohere-498", "gemini-api-key-invalid"],
)
def test_account_and_key_refusals_of_each_protocol(
    failure: Callable[[], UpstreamFailure], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = failure().error
    assert error.status == 502 and error.message == message
    assert logged(caplog, LEAK)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_refused_request_keeps_the_upstream_s_words_scrubbed(
    adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    failure_for_status, body = ADAPTERS[adapter]
    words = f"temperature must be at most 2 (key {KEY}, at {HOST})"
    failure = failure_for_status("primary", 400, body(400, words), None)
    assert failure.error.status == 400 and not failure.retryable
    assert failure.error.message == "temperature must be at most 2 (key [redacted], at [host])"
    assert any(words in r.getMessage() and "'primary'" in r.getMessage() for r in caplog.records)


def test_a_refused_request_with_nothing_to_hide_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    failure = openai_compat.failure_for_status("primary", 400, openai_body(400, "bad top_p"), None)
    assert failure.error.message == "bad top_p"
    assert caplog.records == []


def test_a_connection_error_never_names_the_host(caplog: pytest.LogCaptureFixture) -> None:
    exc = aiohttp.ClientConnectionError(f"Cannot connect to host {HOST} ssl:default")
    error = openai_compat.unreachable("primary", exc).error
    assert error.message == "Bad Gateway: the connection to provider 'primary' failed."
    assert logged(caplog, f"Cannot connect to host {HOST}")


async def test_a_closed_port_is_named_in_the_log_only(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    provider = OpenAICompatProvider("primary", f"http://127.0.0.1:{port}/v1", api_key=KEY)
    await provider.start()
    try:
        with pytest.raises(UpstreamFailure) as caught:
            await provider.complete({"model": "m", "messages": []}, account_id=1)
    finally:
        await provider.close()
    assert caught.value.error.message == "Bad Gateway: the connection to provider 'primary' failed."
    assert logged(caplog, f"127.0.0.1:{port}")


# -- mid-stream ---------------------------------------------------------------------------


class StubResponse:
    """Just enough of an aiohttp response for the stream readers: body pieces, then maybe a break."""

    def __init__(self, *pieces: bytes, broken: Exception | None = None) -> None:
        self.content = self
        self._pieces = pieces
        self._broken = broken

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece
        if self._broken is not None:
            raise self._broken


async def broken_by(stream: SSEChunkStream) -> ApiError:
    with pytest.raises(StreamBroken) as caught:
        async for _ in stream:
            pass
    return caught.value.error


def assert_scrubbed_mid_stream(error: ApiError, caplog: pytest.LogCaptureFixture) -> None:
    assert error.status == 502
    assert error.message.startswith("Bad Gateway: provider 'primary' failed mid-stream: ")
    assert KEY not in error.message and HOST not in error.message
    assert logged(caplog, LEAK)


async def test_openai_error_chunk_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    chunk = b'data: {"id": "c", "choices": []}\n\ndata: ' + openai_body(500, LEAK) + b"\n\n"
    stream = SSEChunkStream(cast(Any, StubResponse(chunk)), "primary")
    assert_scrubbed_mid_stream(await broken_by(stream), caplog)


async def test_openai_responses_error_event_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    event = orjson.dumps({"type": "error", "code": "server_error", "message": LEAK})
    stream = SSEResponseEventStream(cast(Any, StubResponse(b"data: " + event + b"\n\n")), "primary")
    assert_scrubbed_mid_stream(await broken_by(stream), caplog)


async def test_a_broken_connection_mid_stream_never_names_the_host(caplog: pytest.LogCaptureFixture) -> None:
    broken = aiohttp.ClientPayloadError(f"Response payload is not completed from {HOST}")
    stream = SSEChunkStream(cast(Any, StubResponse(b'data: {"choices": []}\n\n', broken=broken)), "primary")
    error = await broken_by(stream)
    assert error.message == "Bad Gateway: provider 'primary' stream broke."
    assert logged(caplog, HOST)


def test_anthropic_error_event_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    translator = AnthropicTranslator("primary", include_usage=False)
    with pytest.raises(StreamBroken) as caught:
        translator.feed({"type": "error", "error": {"type": "api_error", "message": LEAK}})
    assert_scrubbed_mid_stream(caught.value.error, caplog)


def test_anthropic_credential_error_mid_stream_is_not_quoted(caplog: pytest.LogCaptureFixture) -> None:
    translator = AnthropicTranslator("primary", include_usage=False)
    with pytest.raises(StreamBroken) as caught:
        translator.feed({"type": "error", "error": {"type": "authentication_error", "message": LEAK}})
    assert caught.value.error.message == SANITISED[401]
    assert logged(caplog, LEAK)


def test_gemini_error_event_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    translator = GeminiTranslator("gemini-2.5-flash", provider="primary", include_usage=False)
    with pytest.raises(StreamBroken) as caught:
        translator.feed({"error": {"code": 500, "message": LEAK, "status": "INTERNAL"}})
    assert_scrubbed_mid_stream(caught.value.error, caplog)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "error", "message": LEAK},
        {"type": "message-end", "delta": {"error": LEAK}},
    ],
)
def test_cohere_error_events_mid_stream(event: dict, caplog: pytest.LogCaptureFixture) -> None:
    translator = CohereTranslator("primary", model="command-a", created=0, include_usage=False)
    with pytest.raises(StreamBroken) as caught:
        translator.feed(event)
    assert_scrubbed_mid_stream(caught.value.error, caplog)


def test_a_failed_native_response_carries_scrubbed_words() -> None:
    failed = {"object": "response", "status": "failed", "error": {"code": "server_error", "message": LEAK}}
    adopted = adopt(failed, {}, response_id="resp_1", model="gpt-4o")
    assert adopted["error"] == {
        "code": "server_error",
        "message": "Incorrect API key provided: [redacted] (via [host])",
    }
