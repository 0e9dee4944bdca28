"""Small documents of each type file_search reads, made here byte by byte (no office suite)."""

from __future__ import annotations

import io
import zipfile

RECIPES = """\
Lemon pancakes. Whisk two eggs with a cup of milk, fold in flour and grated lemon zest, and fry
small rounds in butter until golden on both sides. Serve with sugar and lemon juice.

Tomato soup. Roast ripe tomatoes with garlic and onion, blend them with vegetable stock, simmer
for twenty minutes and finish with a spoon of cream and fresh basil.

Chocolate brownies. Melt dark chocolate with butter, beat in sugar and eggs, stir in cocoa and a
little flour, then bake in a square tin at 180 degrees for twenty-five minutes.
"""


def pdf(*lines: str) -> bytes:
    """A one-page PDF whose text layer holds these lines (Helvetica, one of the standard 14)."""
    text = "\n".join(
        f"BT /F1 12 Tf 72 {720 - 16 * i} Td ({line.replace('(', '[').replace(')', ']')}) Tj ET"
        for i, line in enumerate(lines)
    ).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx(*paragraphs: str) -> bytes:
    """A DOCX holding only its document part, one paragraph per string ('\\t' becomes a tab)."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

    def run(text: str) -> str:
        parts = text.split("\t")
        return "<w:tab/>".join(f"<w:t xml:space='preserve'>{p}</w:t>" for p in parts)

    body = "".join(f"<w:p><w:r>{run(p)}</w:r></w:p>" for p in paragraphs)
    document = f"<?xml version='1.0'?><w:document xmlns:w='{w}'><w:body>{body}</w:body></w:document>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()
