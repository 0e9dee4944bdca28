"""The built-in OCR engine end to end: RapidOCR's real models, the real server, POST /v1/ocr.

The openai SDK has no OCR call: its low-level `post` sends the requests. Documents are rendered
here with Pillow's own font (no system font needed), as PNG and as PDF.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import aiohttp
import httpx
import openai
import pytest
from yarl import URL

from omnigate.engines.local import find_packaged
from tests.e2e.conftest import STARTING_CREDITS, Harness, eventually

OCR = "local/rapidocr"

pytestmark = pytest.mark.skipif(
    find_packaged("rapidocr", "models/PP-OCRv6_rec_small.onnx") is None
    or find_packaged("pypdfium2", "__init__.py") is None,
    reason="the OCR engine's packages are not installed (make install-test installs them)",
)


def _page(text: str, size: tuple[int, int] = (1400, 300), font_size: int = 64) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((60, 100), text, fill="black", font=ImageFont.load_default(size=font_size))
    return image


def _png(text: str, size: tuple[int, int] = (1400, 300)) -> str:
    buffer = io.BytesIO()
    _page(text, size).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pdf(*texts: str) -> str:
    """An A4 page per text (150 dpi), in one PDF."""
    pages = [_page(text, (1240, 1754), 56) for text in texts]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=150, save_all=True, append_images=pages[1:])
    return "data:application/pdf;base64," + base64.b64encode(buffer.getvalue()).decode()


async def _ocr(harness: Harness, body: dict[str, Any]) -> dict[str, Any]:
    response = await harness.client().post("/ocr", cast_to=httpx.Response, body=body)
    return response.json()


def _text(page: dict[str, Any]) -> str:
    return " ".join(page["markdown"].split())


async def test_the_text_of_a_png_comes_back_free(local_harness: Harness) -> None:
    answer = await _ocr(
        local_harness,
        {"model": OCR, "document": {"type": "image_url", "image_url": _png("Omnigate reads pages offline")}},
    )
    assert [_text(p) for p in answer["pages"]] == ["Omnigate reads pages offline"]
    assert answer["pages"][0]["index"] == 0
    assert answer["pages"][0]["dimensions"]["width"] == 1400
    assert answer["model"] == OCR
    assert answer["usage_info"]["pages_processed"] == 1
    assert answer["meta"]["usage"]["tokens_used"] == 0  # local models are free
    await local_harness.flush()
    assert local_harness.db.account(local_harness.account_id).balance == STARTING_CREDITS


async def test_a_pdf_page_through_mistrals_id_routed_to_the_engine(local_harness: Harness) -> None:
    from omnigate.settings import RouteSettings

    router = local_harness.gateway.router
    router._routes.insert(
        0, RouteSettings(model="mistral/mistral-ocr-latest", provider="local", upstream_model=OCR)
    )
    router._cache.clear()
    answer = await _ocr(
        local_harness,
        {
            "model": "mistral/mistral-ocr-latest",
            "document": {"type": "document_url", "document_url": _pdf("Invoice 4721 is paid")},
        },
    )
    assert [_text(p) for p in answer["pages"]] == ["Invoice 4721 is paid"]
    assert answer["pages"][0]["dimensions"]["dpi"] == 200
    assert answer["model"] == OCR  # a built-in engine answers as itself
    assert local_harness.upstream.requests == []


async def test_models_list_marks_the_ocr_engine_local(local_harness: Harness) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(local_harness.root_url + "/models") as response:
            items = {m["id"]: m for m in (await response.json())["data"]}
    assert items[OCR]["local"] is True and items[OCR]["type"] == "document"


@pytest.mark.parametrize(
    ("document", "pages", "param"),
    [
        ({"type": "document_url", "document_url": "two pages"}, None, "document"),  # over ocr_max_pages
        ({"type": "document_url", "document_url": "two pages"}, [0, 1], "pages"),
        ({"type": "document_url", "document_url": "two pages"}, [2], "pages"),
        ({"type": "document_url", "document_url": "two pages"}, "0-x", "pages"),
        ({"type": "document_url", "document_url": "two pages"}, "0-999999999", "pages"),
        ({"type": "image_url", "image_url": "big image"}, None, "document"),  # over ocr_max_pixels
        ({"type": "image_url", "image_url": "data:image/png;base64,bm90IGFuIGltYWdl"}, None, "document"),
        ({"type": "image_url", "image_url": "truncated image"}, None, "document"),
        ({"type": "image_url", "image_url": "data:image/png;base64,%%%"}, None, "document.image_url"),
        ({"type": "image_url", "image_url": "ftp://example.com/a.png"}, None, "document.image_url"),
    ],
)
async def test_limits_and_bad_documents_answer_400_naming_the_field(
    local_harness: Harness, document: dict[str, Any], pages: Any, param: str
) -> None:
    engine = local_harness.gateway.local.media[OCR]
    engine.max_pages, engine.max_pixels = 1, 1400 * 300 - 1
    png = _png("cut short")
    url = {"two pages": _pdf("one", "two"), "big image": _png("too big"), "truncated image": png[:202]}
    kind = document["type"]
    given = {**document, kind: url.get(document[kind], document[kind])}
    body: dict[str, Any] = {"model": OCR, "document": given}
    if pages is not None:
        body["pages"] = pages
    with pytest.raises(openai.BadRequestError) as caught:
        await _ocr(local_harness, body)
    assert caught.value.body["param"] == param
    assert caught.value.message.startswith(f"Error code: 400 - Body validation error! {param}: ")
    assert not engine.scheduler._busy


async def _leaving_client(harness: Harness, body: dict[str, Any]) -> asyncio.StreamWriter:
    """A request sent on a raw connection, whose client can then leave (close) before the answer."""
    url = URL(harness.base_url)
    _, writer = await asyncio.open_connection(url.host, url.port)
    payload = json.dumps(body).encode()
    head = (
        f"POST {url.path}/ocr HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Authorization: Bearer {harness.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    return writer


async def test_a_full_queue_answers_429_and_clients_that_leave_free_their_places(
    local_harness: Harness,
) -> None:
    engine = local_harness.gateway.local.media[OCR]
    engine.scheduler.max_waiting = 1
    ten_pages = _pdf(*(f"Page number {i}" for i in range(10)))
    long = {"model": OCR, "document": {"type": "document_url", "document_url": ten_pages}}
    sentence = _png("Omnigate reads pages offline")
    short = {"model": OCR, "document": {"type": "image_url", "image_url": sentence}}
    reading = await _leaving_client(local_harness, long)
    await eventually(lambda: engine.scheduler._busy, timeout=30)
    waiting = await _leaving_client(local_harness, short)
    await eventually(lambda: engine.scheduler.waiting == 1, timeout=30)

    with pytest.raises(openai.RateLimitError) as caught:
        await _ocr(local_harness, short)
    assert caught.value.response.headers["Retry-After"] == "2"
    assert caught.value.body["code"] == "engine_busy"

    waiting.close()  # a waiting client leaves: its place in the queue is given up
    await eventually(lambda: engine.scheduler.waiting == 0, timeout=5)
    reading.close()  # the reading one leaves: the engine stops after the page in progress
    await eventually(lambda: not engine.scheduler._busy, timeout=60)
    answer = await _ocr(local_harness, short)
    assert [_text(p) for p in answer["pages"]] == ["Omnigate reads pages offline"]
