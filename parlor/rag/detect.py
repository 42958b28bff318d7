"""What a file is, from its bytes (never from its name): PDF, DOCX, HTML, Markdown or plain text."""

from __future__ import annotations

import io
import re
import zipfile

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
SUPPORTED = (PDF, DOCX, HTML, MARKDOWN, TEXT)

_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--|<(p|div|h[1-6]|article|section)\b)", re.I)
_MARKDOWN = re.compile(r"^(#{1,6} \S|[-*+] \S|\d+\. \S|```|> \S)|\[[^\]]+\]\([^)]+\)|\*\*\S", re.M)


class UnsupportedType(ValueError):
    """Bytes that are none of the accepted kinds."""


def detect(data: bytes) -> str:
    """The content type of `data`; raises UnsupportedType (with a reason a user can read)."""
    if not data.strip():
        raise UnsupportedType("the file is empty")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        if _is_docx(data):
            return DOCX
        raise UnsupportedType("a ZIP archive that is not a Word (.docx) document")
    if data.startswith((b"\xd0\xcf\x11\xe0",)):
        raise UnsupportedType("an old binary Office file (.doc/.xls); save it as .docx or PDF")
    head = data[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedType("a binary file that is not PDF or DOCX")
    text = decode_text(data)
    if _HTML_START.match(head.lstrip(b"\xef\xbb\xbf")):
        return HTML
    return MARKDOWN if len(_MARKDOWN.findall(text[:20_000])) >= 2 else TEXT


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise UnsupportedType("text in an unknown encoding (use UTF-8)") from None


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False
