"""Bytes to text blocks that keep where they came from (page, heading): PDF (pypdf), DOCX
(python-docx), HTML (the standard library's parser), Markdown and plain text. CPU-bound and
synchronous: callers run it in a worker thread."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser

from parlor.rag.detect import DOCX, HTML, MARKDOWN, PDF, decode_text


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph-ish piece of text; `heading` starts a new section."""

    text: str
    page: int | None = None
    heading: bool = False


@dataclass(frozen=True, slots=True)
class Parsed:
    blocks: list[Block]
    pages: int | None = None


class ParseError(ValueError):
    """A file that cannot be read (corrupt, encrypted, empty, too many pages): the message is for the user."""


# A DOCX is a zip: what its entries declare they unpack to is checked before anything is unpacked (zipfile
# stops reading an entry at its declared size, so the declaration bounds the work).
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_ZIP_RATIO = 100  # unpacked/packed: text-heavy Word files stay far below; a zip bomb is far above


def parse(data: bytes, content_type: str, max_pages: int) -> Parsed:
    if content_type == PDF:
        parsed = _pdf(data, max_pages)
    elif content_type == DOCX:
        parsed = _docx(data)
    elif content_type == HTML:
        parsed = Parsed(_html(decode_text(data)))
    elif content_type == MARKDOWN:
        parsed = Parsed(_markdown(decode_text(data)))
    else:
        parsed = Parsed(_paragraphs(decode_text(data)))
    blocks = [Block(storable(block.text), block.page, block.heading) for block in parsed.blocks]
    if not any(block.text.strip() for block in blocks):
        raise ParseError("no text was found in the file (a scanned PDF needs OCR first)")
    return Parsed(blocks, parsed.pages)


# What a database cannot hold or a reader cannot see: NUL (PostgreSQL refuses it in text), other C0
# controls but tab and newline (PDF extractors emit them), lone surrogates (no UTF-8 encoding exists)
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]|[\ud800-\udfff]")


def storable(text: str) -> str:
    """A document's text as every store holds it: controls dropped, a lone surrogate shown as U+FFFD."""
    return _UNSTORABLE.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", text)


def _paragraphs(text: str, page: int | None = None) -> list[Block]:
    return [Block(_squash(p), page) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _squash(text: str) -> str:
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


def _pdf(data: bytes, max_pages: int) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:  # readable only if its user password is empty (owner restrictions only)
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # a wrong password, or a cipher pypdf cannot do without extra packages
                opened = False
            if not opened:
                raise ParseError("the PDF is encrypted (password protected)")
        count = len(reader.pages)
        if count > max_pages:
            raise ParseError(f"the PDF has {count} pages; at most {max_pages} are accepted")
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            blocks += _pdf_blocks(page.extract_text() or "", number)
    except ParseError:
        raise
    except FileNotDecryptedError:
        raise ParseError("the PDF is encrypted (password protected)") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ParseError(f"the PDF could not be read: it looks corrupt ({type(exc).__name__})") from None
    return Parsed(blocks, count)


def _pdf_blocks(text: str, page: int) -> list[Block]:
    """A page's lines as headings and paragraphs: a short line without final punctuation is a heading;
    a paragraph ends at a line that ends a sentence well short of the page's full line width."""
    lines = [_squash(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    width = max((len(line) for line in lines), default=0)
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block(" ".join(paragraph), page))
            paragraph.clear()

    for line in lines:
        if len(line) < 60 and line[:1].isupper() and not line.endswith((".", ",", ";", ":", "!", "?")) \
                and not paragraph:
            blocks.append(Block(line, page, heading=True))
            continue
        paragraph.append(line)
        if line.endswith((".", "!", "?", ":")) and len(line) < 0.8 * width:
            flush()
    flush()
    return blocks


def _docx(data: bytes) -> Parsed:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    _refuse_zip_bomb(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise ParseError(f"the Word document could not be read: it looks corrupt ({type(exc).__name__})") from None
    blocks: list[Block] = []
    for paragraph in document.paragraphs:
        text = _squash(paragraph.text)
        if text:
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            blocks.append(Block(text, heading=style.lower().startswith(("heading", "title"))))
    for table in document.tables:
        for row in table.rows:
            cells = " | ".join(_squash(cell.text) for cell in row.cells if cell.text.strip())
            if cells:
                blocks.append(Block(cells))
    return Parsed(blocks)


def _refuse_zip_bomb(data: bytes) -> None:
    try:
        unpacked = sum(entry.file_size for entry in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, OSError):
        raise ParseError("the Word document could not be read: it looks corrupt (not a zip file)") from None
    if unpacked > MAX_UNZIPPED_BYTES or unpacked > MAX_ZIP_RATIO * max(len(data), 64 * 1024):
        raise ParseError(f"the Word document would unpack to {unpacked // 1_000_000} MB from "
                         f"{len(data) // 1000} KB: refused as a decompression bomb")


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        if paragraph:
            blocks.append(Block(_squash("\n".join(paragraph))))
            paragraph.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            paragraph.append(line)
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(heading.group(2).strip(" #"), heading=True))
        elif not line.strip() and not fenced:
            flush()
        else:
            paragraph.append(line)
    flush()
    return blocks


_BLOCK_TAGS = {"p", "div", "section", "article", "li", "tr", "br", "pre", "blockquote", "table", "ul", "ol",
               "dd", "dt", "main", "header", "footer", "figcaption", "td", "th"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "title"}
_SKIP = {"script", "style", "noscript", "template", "svg", "nav"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._skip = 0
        self._heading = False

    def _flush(self) -> None:
        text = _squash(" ".join(self._text))
        if text:
            self.blocks.append(Block(text, heading=self._heading))
        self._text.clear()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _HEADINGS or tag in _BLOCK_TAGS:
            self._flush()
            self._heading = tag in _HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADINGS or tag in _BLOCK_TAGS:
            self._flush()
            self._heading = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._text.append(data)


def _html(text: str) -> list[Block]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.blocks
