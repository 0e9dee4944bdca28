"""Upstream failures as the client reads them, through the real server and the openai SDK: the
kind of failure, never the upstream's words about the gateway's key nor the upstream's address."""

from __future__ import annotations

import logging
import socket
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from omnigate.settings import load_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.server import funded_account, serve

GATEWAY_KEY = "sk-upstream-secret"
# How the fake upstream (as api.openai.com) quotes the key it refused.
QUOTED_KEY = "sk-upst*******cret"
MESSAGES = [{"role": "user", "content": "hello"}]


@dataclass
class Gateway:
    client: openai.AsyncOpenAI
    closed_port: int


def closed_port() -> int:
    """A port that was free a moment ago: nothing listens on it once the socket is closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway whose `primary` upstream holds another key than the gateway's, and whose `dead`
    upstream listens nowhere; one try per request, so each failure reaches the client as it is."""
    upstream = FakeOpenAIUpstream(api_key="sk-rotated-by-the-provider")
    await upstream.start()
    port = closed_port()
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"

            [routing]
            max_attempts = 1

            [providers.primary]
            kind = "openai"
            base_url = "{upstream.base_url}"
            api_key = "{GATEWAY_KEY}"

            [providers.dead]
            kind = "openai"
            base_url = "http://127.0.0.1:{port}/v1"
            api_key = "{GATEWAY_KEY}"

            [[routes]]
            model = "gpt-4o-mini"
            provider = "dead"

            [[routes]]
            model = "*"
            provider = "primary"
            """
        )
    )
    settings = load_settings(config)
    db, _, key = funded_account(settings.database_url, 1_000_000)
    async with serve(settings) as (_, root):
        client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key=key, max_retries=0)
        yield Gateway(client=client, closed_port=port)
        await client.close()
    db.close()
    await upstream.stop()


def message_of(error: openai.APIStatusError) -> str:
    """The message of the gateway's error body, in both of its forms (AI/ML API and OpenAI)."""
    body = error.response.json()
    assert body["message"] == body["error"]["message"]
    return body["message"]


def warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_a_refused_key_reaches_the_client_as_a_502_without_the_upstream_s_words(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await gateway.client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert (
        message_of(caught.value) == "Bad Gateway: provider 'primary' refused the gateway's credentials (401)."
    )
    body = caught.value.response.text
    for leaked in ("Incorrect API key", QUOTED_KEY, GATEWAY_KEY, "platform.openai.com"):
        assert leaked not in body
    # The operator reads what the upstream said.
    refusal = f"refused the gateway's credentials (401): Incorrect API key provided: {QUOTED_KEY}"
    assert f"provider 'primary' {refusal}" in warnings(caplog)


async def test_a_refused_key_on_a_stream_reads_the_same(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await gateway.client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert caught.value.status_code == 502
    assert QUOTED_KEY not in caught.value.response.text


async def test_a_connection_refused_names_no_host_nor_port(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        await gateway.client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == 502
    message = message_of(caught.value)
    assert message == "Bad Gateway: the connection to provider 'dead' failed."
    assert "127.0.0.1" not in caught.value.response.text and str(gateway.closed_port) not in message
    assert f"127.0.0.1:{gateway.closed_port}" in warnings(caplog)
