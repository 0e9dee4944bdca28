"""Input that once reached a 500, on both stacks: each is a 4xx naming what was wrong."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp
import openai
import pytest

from tests.e2e.conftest import PRICED_MODEL, Harness

HELLO = [{"role": "user", "content": "hello"}]


async def _raw_status(harness: Harness, header_line: bytes) -> int:
    """GET /v1/billing/balance with a header line as raw bytes (HTTP clients refuse to send some)."""
    url = urlsplit(harness.root_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"GET /v1/billing/balance HTTP/1.1\r\nHost: x\r\n" + header_line + b"\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_a_key_header_that_is_not_ascii_is_a_401(harness: Harness) -> None:
    assert await _raw_status(harness, b"Authorization: Bearer \xe9\xff") == 401


async def _admin(harness: Harness, method: str, path: str, body: object = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {harness.admin_key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.request(method, harness.base_url + path, json=body) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/admin/accounts", {"name": "big", "low_balance_threshold": 2**63}, 400),
        ("POST", "/admin/accounts/team/topup", {"credits": 2**63}, 400),
        ("POST", "/admin/accounts", {"name": "nul\u0000"}, 400),
        ("POST", "/admin/keys", {"account": "team", "name": "k\u0000"}, 400),
        ("POST", "/admin/accounts/team/topup", {"credits": 5, "note": "n\u0000"}, 400),
        ("GET", "/admin/accounts/a%00", None, 404),
        ("POST", "/admin/keys/%00/disable", None, 404),
        ("DELETE", "/keys/%00", None, 404),
        ("GET", "/responses/%00", None, 404),
    ],
)
async def test_admin_and_stored_lookups_refuse_what_the_database_cannot_hold(
    harness: Harness, method: str, path: str, body: object, status: int
) -> None:
    if path.startswith("/responses"):
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {harness.key}"}) as http,
            http.request(method, harness.base_url + path) as response,
        ):
            got = response.status
    else:
        got, _ = await _admin(harness, method, path, body)
    assert got == status


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"role": "user", "content": [{"type": "input_text", "text": True}]}, "input[0].content[0].text"),
        (
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": 5}]},
            "input[0].output[0].text",
        ),
    ],
)
async def test_responses_input_text_that_is_not_a_string_is_a_400(
    harness: Harness, item: dict, field: str
) -> None:
    with pytest.raises(openai.BadRequestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        await harness.client().responses.create(model=PRICED_MODEL, input=[item])


async def test_a_previous_response_id_with_nul_is_a_404(harness: Harness) -> None:
    with pytest.raises(openai.NotFoundError):
        await harness.client().responses.create(
            model=PRICED_MODEL, input="hi", previous_response_id="a\u0000"
        )


async def test_requests_the_upstream_refuses_do_not_cool_its_deployment_down(harness: Harness) -> None:
    harness.upstream.fail_next = [400, 400, 400, 400]
    for _ in range(4):
        with pytest.raises(openai.BadRequestError):
            await harness.client().chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    assert harness.gateway.router.health.available("primary:gpt-4o-2024-08-06")
    await harness.client().chat.completions.create(model=PRICED_MODEL, messages=HELLO)
    assert len(harness.backup.requests) == 0  # every request went to the primary
