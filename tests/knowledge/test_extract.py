"""The text file_search reads from each type of file, and the files it refuses."""

from __future__ import annotations

import pytest

from omnigate.knowledge.extract import UnreadableFile, extract_text, file_type
from tests.knowledge.documents import docx, pdf


def test_plain_text_loses_its_byte_order_mark_and_nul_characters() -> None:
    assert extract_text("notes.txt", "text/plain", "\ufeffline one\x00\nline two".encode()) == (
        "line one\nline two"
    )


def test_invalid_utf8_does_not_make_a_text_file_unreadable() -> None:
    assert extract_text("notes.md", None, b"caf\xe9 au lait") == "caf\ufffd au lait"


@pytest.mark.parametrize("name", ["table.csv", "data.json", "README.md", "main.py"])
def test_text_like_types_are_read_as_they_are(name: str) -> None:
    content = 'name,dish\n"Ann","soup"\n{"k": 1}'
    assert extract_text(name, "application/octet-stream", content.encode()) == content


def test_html_keeps_its_text_without_scripts_styles_or_markup() -> None:
    html = (
        "<html><head><style>p {color: red}</style><script>var secret = 1;</script></head>"
        "<body><h1>Soup</h1><p>Tomatoes &amp; basil</p><p>Simmer</p></body></html>"
    )
    text = extract_text("page.html", "text/html", html.encode())
    assert text.split() == ["Soup", "Tomatoes", "&", "basil", "Simmer"]
    assert "secret" not in text and "color" not in text


def test_a_pdf_gives_the_text_of_its_text_layer() -> None:
    text = extract_text(
        "recipes.pdf", "application/pdf", pdf("Lemon pancakes need eggs.", "Soup needs stock.")
    )
    assert "Lemon pancakes need eggs." in text and "Soup needs stock." in text


def test_a_docx_gives_its_paragraphs() -> None:
    text = extract_text("letter.docx", None, docx("Dear chef,", "Two eggs\tone cup of milk."))
    assert text == "Dear chef,\nTwo eggs\tone cup of milk."


def test_the_media_type_decides_for_a_name_without_a_known_extension() -> None:
    assert file_type("upload", "application/pdf") == "pdf"
    assert file_type("notes.v2", "text/plain; charset=utf-8") == "txt"
    assert extract_text("upload", "text/markdown", b"# Title") == "# Title"


@pytest.mark.parametrize(
    ("name", "content_type", "kind"),
    [
        ("sheet.xlsx", "application/vnd.ms-excel", "xlsx"),
        ("photo.png", "image/png", "png"),
        ("blob", "application/octet-stream", "application/octet-stream"),
        ("blob", None, "unknown"),
    ],
)
def test_other_types_are_refused_naming_the_type_and_what_is_read(
    name: str, content_type: str | None, kind: str
) -> None:
    with pytest.raises(UnreadableFile) as refused:
        extract_text(name, content_type, b"\x89PNG\r\n")
    assert f"({kind})" in str(refused.value)
    assert "txt" in str(refused.value) and "pdf" in str(refused.value)


@pytest.mark.parametrize("name", ["broken.pdf", "broken.docx"])
def test_a_file_that_is_not_what_its_name_says_is_refused(name: str) -> None:
    with pytest.raises(UnreadableFile, match="not a readable"):
        extract_text(name, None, b"plain text, not a document")


def test_empty_files_have_no_text() -> None:
    assert extract_text("empty.txt", None, b"") == ""
    assert extract_text("empty.docx", None, docx()) == ""
