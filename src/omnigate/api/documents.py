"""POST /v1/ocr: text out of documents and images, in Mistral's shape (`mistral/mistral-ocr-latest`)
or Google Document AI's (`google/gc-document-ai`, whose requests may leave the model out)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from omnigate.api.media import begin_media, json_answer, run_media, settle_media, with_meta
from omnigate.api.pipeline import Family
from omnigate.billing.pricing import Used
from omnigate.catalog.loader import Model
from omnigate.gateway import GATEWAY
from omnigate.providers.media import Upload

OCR = Family("/v1/ocr", ("document",), media="ocr")
# The service's Google OCR page sends no model: its requests are the ones with a plain `document`.
GOOGLE_OCR = "google/gc-document-ai"


async def ocr(request: web.Request) -> web.Response:
    estimate = _estimator(request.app[GATEWAY].settings.billing.max_document_pages)
    call, uploads = await begin_media(request, OCR, estimate, prepare=_default_model)
    try:
        result = await run_media(call, "ocr", uploads)
        charged = await settle_media(call, result)
        return json_answer(call, with_meta(dict(result.body or {}), charged))
    finally:
        await call.release()


def _default_model(body: dict) -> None:
    if "model" not in body and isinstance(body.get("document"), str):
        body["model"] = GOOGLE_OCR


def _estimator(max_pages: int) -> Callable[[Model, dict, list[Upload], int], Used]:
    def estimate(model: Model, body: dict, uploads: list[Upload], size: int) -> Used:
        return Used(pages=_pages_asked(body.get("pages")) or max_pages)

    return estimate


def _pages_asked(pages: object) -> int:
    """How many pages a request names (0: it does not say, every page of the document)."""
    if isinstance(pages, list):
        return len(pages)
    if isinstance(pages, dict):
        if pages.get("type") == "indices" and isinstance(pages.get("indices"), list):
            return len(pages["indices"])
        start, end = pages.get("start"), pages.get("end")
        if pages.get("type") == "range" and isinstance(start, int) and isinstance(end, int) and end >= start:
            return end - start + 1
    return 0
