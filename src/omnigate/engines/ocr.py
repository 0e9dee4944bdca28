"""The built-in OCR engine: RapidOCR (PP-OCRv6 small models on ONNX Runtime, shipped inside the
`rapidocr` package), answering Mistral's OCR shape (`pages[{index, markdown, dimensions}]`).

A document is an image (anything Pillow opens) or a PDF, whose pages pypdfium2 renders one by
one. Reading runs in the engine's own thread, one document at a time; waiting documents take
turns by account and a full waiting room answers 429 (turns.py). A client that leaves takes its
document out of the queue, or stops the reading after the page in progress.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnigate.billing.pricing import Used
from omnigate.engines.scheduler import FairScheduler
from omnigate.engines.turns import take_turn
from omnigate.errors import ApiError
from omnigate.providers.base import UpstreamFailure
from omnigate.providers.media import MediaJob, MediaResult

if TYPE_CHECKING:
    # Only for annotations: Pillow comes with the [local] extra, which the core install lacks.
    from PIL.Image import Image

log = logging.getLogger(__name__)
# PDF pages are rendered at this resolution (10-point text is then 28 pixels high), lowered for a
# page that would exceed the pixel limit.
PDF_DPI = 200
# pdfium is not thread-safe: every call into it holds this lock.
_PDFIUM = threading.Lock()


class Stopped(Exception):
    """The client left: the reading ends after the page in progress."""


@dataclass(slots=True)
class Document:
    """A document checked (its kind, the pages to read) before it waits for its turn."""

    data: bytes
    pdf: bool
    pages: list[int]  # the page indices to read, in order
    stop: threading.Event = field(default_factory=threading.Event)


class OcrEngine:
    local = True

    def __init__(self, model_id: str, *, max_waiting: int, max_pages: int, max_pixels: int) -> None:
        self.model_id = model_id
        self.max_pages = max_pages
        self.max_pixels = max_pixels
        self.scheduler = FairScheduler(max_waiting)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ocr")
        self._ocr: Any = None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def run(self, job: MediaJob) -> MediaResult:
        data = await _document_bytes(job)
        document = await asyncio.to_thread(self.inspect, data, job.body.get("pages"))
        pages = await take_turn(
            self.scheduler, self.model_id, job.account_id, lambda: self._read(document), job.gone
        )
        body = {
            "pages": pages,
            "model": self.model_id,
            "document_annotation": None,
            "usage_info": {"pages_processed": len(pages), "doc_size_bytes": len(data)},
        }
        return MediaResult(body=body, used=Used(pages=len(pages)))

    async def _read(self, document: Document) -> list[dict]:
        """The reading, in the engine's thread, during the document's turn (turns.py)."""
        reading = asyncio.get_running_loop().run_in_executor(self._executor, self.read, document)
        try:
            return await asyncio.shield(reading)
        except (UpstreamFailure, Stopped):
            raise
        except Exception as exc:
            log.exception("local OCR failed")
            raise UpstreamFailure(
                ApiError(500, f"The local engine {self.model_id!r} failed: {exc}", code="engine_error"),
                retryable=False,
            ) from exc
        except asyncio.CancelledError:  # the client left (or the server stops)
            document.stop.set()
            # Wait for the thread to stop, so the next document never overlaps this one.
            with contextlib.suppress(Exception):
                await asyncio.shield(reading)
            raise

    # -- on a worker thread ----------------------------------------------------------------------
    def inspect(self, data: bytes, pages: object) -> Document:
        """The document's kind and the pages to read, within the limits; 400s name the field."""
        if data.startswith(b"%PDF"):
            with _PDFIUM:
                count = _pdf_page_count(data)
            wanted = _pages_wanted(pages, count)
            self._check_page_count(len(wanted), pages)
            return Document(data, pdf=True, pages=wanted)
        size = _image_size(data)
        wanted = _pages_wanted(pages, 1)
        if size[0] * size[1] > self.max_pixels:
            raise UpstreamFailure.invalid(
                "document",
                f"the image is {size[0]}x{size[1]} pixels; the local OCR engine reads at most "
                f"{self.max_pixels} pixels per image ([engines] ocr_max_pixels)",
            )
        return Document(data, pdf=False, pages=wanted)

    def _check_page_count(self, count: int, pages: object) -> None:
        if count > self.max_pages:
            param = "document" if pages in (None, "", []) else "pages"
            raise UpstreamFailure.invalid(
                param,
                f"{count} pages asked; the local OCR engine reads at most {self.max_pages} pages per "
                f"request ([engines] ocr_max_pages): name fewer in `pages`",
            )

    def read(self, document: Document) -> list[dict]:
        """Each page's text as markdown, in Mistral's page shape (the engine's thread)."""
        ocr = self._load()
        import numpy as np

        out = []
        for index, image, dpi in self._images(document):
            if document.stop.is_set():
                raise Stopped
            found = ocr(np.asarray(image.convert("RGB")))
            out.append(
                {
                    "index": index,
                    "markdown": _markdown(found.boxes, found.txts),
                    "images": [],
                    "dimensions": {"dpi": dpi, "height": image.height, "width": image.width},
                }
            )
        return out

    def _images(self, document: Document) -> Iterator[tuple[int, Image, int]]:
        if not document.pdf:
            from PIL import Image as PILImage

            try:
                image = PILImage.open(io.BytesIO(document.data))
                image.load()  # the header was read before; a truncated or corrupt body fails here
            except (OSError, ValueError, SyntaxError) as exc:
                raise UpstreamFailure.invalid("document", f"the image cannot be decoded ({exc})") from exc
            dpi = image.info.get("dpi") or (72, 72)
            yield 0, image, round(float(dpi[0]))
            return
        import pypdfium2 as pdfium

        with _PDFIUM:
            pdf = pdfium.PdfDocument(document.data)
        try:
            for index in document.pages:
                with _PDFIUM:
                    page = pdf[index]
                    width, height = page.get_size()  # points (1/72 inch)
                    scale = min(PDF_DPI / 72, (self.max_pixels / max(width * height, 1.0)) ** 0.5)
                    try:
                        image = page.render(scale=scale).to_pil()
                    except pdfium.PdfiumError as exc:
                        message = f"page {index} of the PDF cannot be rendered ({exc})"
                        raise UpstreamFailure.invalid("document", message) from exc
                    finally:
                        page.close()
                yield index, image, round(72 * scale)
        finally:
            with _PDFIUM:
                pdf.close()

    def _load(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR

            # The models inside the package; RapidOCR only checks their hashes, it downloads nothing.
            self._ocr = RapidOCR(params={"Global.log_level": "warning"})
        return self._ocr


async def _document_bytes(job: MediaJob) -> bytes:
    """The bytes of `document` (Mistral's `{type: image_url | document_url, ...}`): a data URL,
    or an http(s) URL fetched within the gateway's limits."""
    document = job.body.get("document")
    kind = document.get("type") if isinstance(document, dict) else None
    url = document.get(kind) if isinstance(document, dict) and isinstance(kind, str) else None
    if isinstance(url, dict):  # `image_url: {url}`, as OpenAI's messages write it
        url = url.get("url")
    param = f"document.{kind}" if kind in ("image_url", "document_url") else "document"
    if not isinstance(url, str) or not url:
        raise UpstreamFailure.invalid(param, "`document` needs `type` image_url or document_url and that URL")
    if url.startswith("data:"):
        header, comma, payload = url.partition(",")
        if not comma or not header.endswith(";base64"):
            raise UpstreamFailure.invalid(param, "a data URL must be base64 (data:<type>;base64,<data>)")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UpstreamFailure.invalid(param, f"the data URL is not valid base64 ({exc})") from exc
    if url.startswith(("http://", "https://")):
        return (await job.fetch(url)).data
    raise UpstreamFailure.invalid(param, "the document URL must be an http(s) URL or a data URL")


def _pdf_page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UpstreamFailure.invalid("document", f"the PDF cannot be read ({exc})") from exc
    try:
        return len(pdf)
    finally:
        pdf.close()


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except (UnidentifiedImageError, OSError, PILImage.DecompressionBombError) as exc:
        raise UpstreamFailure.invalid(
            "document", f"the document is neither a PDF nor an image the engine can read ({exc})"
        ) from exc


def _pages_wanted(pages: object, count: int) -> list[int]:
    """Mistral's `pages` (0-based): a list of indices, or a string such as "0,2-4"; every page
    when it is left out."""
    if pages is None or pages == "" or pages == []:
        return list(range(count))
    wanted: list[int] = []
    if isinstance(pages, list):
        wanted = [p for p in pages if isinstance(p, int)]
    elif isinstance(pages, str):
        try:
            for part in pages.split(","):
                first, dash, last = part.strip().partition("-")
                bounds = (int(first), int(last)) if dash else (int(first), int(first))
                _check_in(bounds, count)  # before the range is made: "0-999999999" is one
                wanted.extend(range(bounds[0], bounds[1] + 1))
        except ValueError as exc:
            raise UpstreamFailure.invalid(
                "pages", f'`pages` must be indices or ranges such as "0,2-4" ({exc})'
            ) from exc
    _check_in(wanted, count)
    return list(dict.fromkeys(wanted))


def _check_in(pages: Iterable[int], count: int) -> None:
    outside = [p for p in pages if not 0 <= p < count]
    if outside:
        raise UpstreamFailure.invalid(
            "pages", f"page {outside[0]} is not in the document, whose pages are 0 to {count - 1} (0-based)"
        )


def _markdown(boxes: Any, texts: Any) -> str:
    """RapidOCR's text boxes as lines: boxes whose vertical middles fall within one another's
    height are one line, read left to right; lines top to bottom."""
    if boxes is None or texts is None:
        return ""
    spans = []
    for box, text in zip(boxes, texts, strict=True):
        ys = [float(p[1]) for p in box]
        spans.append((min(ys), max(ys), min(float(p[0]) for p in box), str(text).strip()))
    spans.sort()
    lines: list[list[tuple[float, float, float, str]]] = []
    for span in spans:
        middle = (span[0] + span[1]) / 2
        last = lines[-1] if lines else None
        if last is not None and last[0][0] <= middle <= last[0][1]:
            last.append(span)
        else:
            lines.append([span])
    return "\n".join(" ".join(s[3] for s in sorted(line, key=lambda s: s[2]) if s[3]) for line in lines)
