"""The text of an uploaded file, by its type: plain text and code as they are, HTML without its
markup, PDF through pypdfium2 (its text layer: a scanned page without one has no text), DOCX from
its XML with the standard library. Anything else is refused, saying which types are read."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from pathlib import PurePosixPath
from xml.etree import ElementTree

# Read as UTF-8 text (OpenAI's file_search reads these too).
TEXT_TYPES = frozenset(
    {"txt", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "xml", "yaml", "yml", "log", "tex"}
    | {"py", "js", "ts", "java", "c", "cc", "cpp", "h", "hpp", "cs", "go", "rb", "php", "sh", "css", "sql"}
)
HTML_TYPES = frozenset({"html", "htm"})
# By media type, for a file whose name says nothing (no extension, or an unknown one).
_MEDIA_TYPES = {
    "application/pdf": "pdf",
    "text/html": "html",
    "application/json": "json",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
SUPPORTED = sorted(TEXT_TYPES | HTML_TYPES | {"pdf", "docx"})
# A DOCX whose document part unpacks to more than this is refused (a zip bomb, or not a letter).
MAX_DOCX_XML_BYTES = 64 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class UnreadableFile(ValueError):
    """The file's type is not one file_search reads, or its content is not what its type says."""


def file_type(filename: str, content_type: str | None) -> str:
    """The type the text is read as: the file name's extension, else its media type."""
    suffix = PurePosixPath(filename).suffix.lower().lstrip(".")
    if suffix in TEXT_TYPES or suffix in HTML_TYPES or suffix in ("pdf", "docx"):
        return suffix
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _MEDIA_TYPES:
        return _MEDIA_TYPES[media]
    if media.startswith("text/"):
        return "txt"
    return suffix or media or "unknown"


def extract_text(filename: str, content_type: str | None, data: bytes) -> str:
    """The file's text, NUL characters removed (PostgreSQL refuses them in text)."""
    kind = file_type(filename, content_type)
    if kind in TEXT_TYPES:
        text = _decode(data)
    elif kind in HTML_TYPES:
        text = _html_text(_decode(data))
    elif kind == "pdf":
        text = _pdf_text(data)
    elif kind == "docx":
        text = _docx_text(data)
    else:
        raise UnreadableFile(
            f"its type ({kind}) cannot be searched; file_search reads {', '.join(SUPPORTED)}"
        )
    return text.replace("\x00", "")


def _decode(data: bytes) -> str:
    # utf-8-sig drops a byte-order mark; a stray invalid byte must not make the file unsearchable.
    return data.decode("utf-8-sig", errors="replace")


class _HtmlText(HTMLParser):
    """Text nodes outside <script> and <style>; block elements end a line."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template"})
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "ul", "ol", "tr", "table", "pre", "blockquote"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _pdf_text(data: bytes) -> str:
    try:
        import pypdfium2 as pdfium
    except ImportError:  # the [local] extra brings it; the core install reads no PDF
        raise UnreadableFile("reading PDF needs pypdfium2 (pip install 'omnigate[local]')") from None
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableFile(f"it is not a readable PDF ({exc})") from None
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n\n".join(pages)
    finally:
        pdf.close()


def _docx_text(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise UnreadableFile("its document part is larger than file_search reads")
            root = ElementTree.fromstring(archive.read(info))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        raise UnreadableFile("it is not a readable DOCX document") from None
    paragraphs = []
    for paragraph in root.iter(f"{_W}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    return "\n".join(paragraphs)
