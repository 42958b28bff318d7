"""A message's attachments as the client sends them (AI SDK file parts: `data:` URLs) to checked uploads.

The type is read from the bytes (magic numbers, then Pillow or pypdf must open them); the type the client
declares must agree. Images are re-encoded from their pixels alone, so EXIF (camera, GPS position),
XMP, ICC profiles and comments never reach storage or a provider; a photo's orientation is applied to
the pixels first, and images wider or taller than `max_edge` are scaled down (the providers would scale
them anyway, and pay for the bytes). An animated GIF keeps its first frame: no provider reads the rest.
Pure and CPU-bound: the route runs it in a thread."""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps
from pypdf import PdfReader

from parlor.llm.types import MessageFile

PDF = "application/pdf"
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": PDF}
MAX_PIXELS = 40_000_000  # a larger image is refused before it is decoded (a decompression bomb)
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*);base64,", re.ASCII)


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    max_bytes: int  # of one file, decoded
    max_count: int  # per message
    max_edge: int  # images are scaled down to fit this many pixels on their longer side


@dataclass(frozen=True, slots=True)
class Upload:
    """One checked attachment, ready to store: cleaned bytes, their type (from the content) and size."""

    media_type: str
    data: bytes
    filename: str | None = None
    width: int = 0
    height: int = 0
    pages: int = 0

    @property
    def is_image(self) -> bool:
        return self.media_type != PDF

    def inline(self) -> MessageFile:
        """As a model message's file, its bytes in hand (`/v1` sends what it checked; nothing is stored)."""
        return MessageFile(self.media_type, self.filename, self.data, self.width, self.height, self.pages)


class AttachmentRejected(Exception):
    """An attachment that cannot be taken: the HTTP status and machine-readable code to answer with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class FileIn:
    """An attachment as sent: its declared type, its URL, its name."""

    media_type: str
    url: str
    filename: str | None = None


def read_uploads(files: Sequence[FileIn], limits: AttachmentLimits) -> tuple[Upload, ...]:
    """Every attachment checked and cleaned, or AttachmentRejected for the first that is not acceptable."""
    if len(files) > limits.max_count:
        raise AttachmentRejected(413, "too_many_attachments",
                                 f"A message can carry at most {limits.max_count} attachments.")
    return tuple(read_upload(file, limits) for file in files)


def read_upload(file: FileIn, limits: AttachmentLimits) -> Upload:
    name = file.filename or "the attachment"
    data = _decode(file.url, name, limits.max_bytes)
    actual = sniff(data)
    if actual is None:
        raise AttachmentRejected(415, "unsupported_attachment",
                                 f"{name} is not a PNG, JPEG, GIF or WebP image, nor a PDF.")
    declared = ALIASES.get(file.media_type.lower(), file.media_type.lower())
    if declared != actual:
        raise AttachmentRejected(422, "attachment_type_mismatch",
                                 f"{name} is sent as {file.media_type or 'no type'} but its content is {actual}.")
    if actual == PDF:
        return Upload(PDF, data, file.filename, pages=_pdf_pages(data, name))
    return _clean_image(data, actual, file.filename, limits.max_edge)


def sniff(data: bytes) -> str | None:
    """The type the bytes' magic number says, among those taken; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def _decode(url: str, name: str, max_bytes: int) -> bytes:
    match = _DATA_URL.match(url)
    if match is None:
        raise AttachmentRejected(422, "bad_attachment_url",
                                 f"{name} must be sent inline, as a base64 data: URL.")
    encoded = url[match.end():]
    if len(encoded) > (max_bytes + 2) // 3 * 4 + 4:  # refused before decoding what is far too big
        raise AttachmentRejected(413, "attachment_too_large", f"{name} is over {max_bytes} bytes.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentRejected(422, "bad_attachment_url", f"{name} is not valid base64.") from None
    if len(data) > max_bytes:
        raise AttachmentRejected(413, "attachment_too_large", f"{name} is over {max_bytes} bytes.")
    if not data:
        raise AttachmentRejected(422, "broken_attachment", f"{name} is empty.")
    return data


def _clean_image(data: bytes, media_type: str, filename: str | None, max_edge: int) -> Upload:
    name = filename or "the image"
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.width * source.height > MAX_PIXELS:
                raise AttachmentRejected(413, "image_too_large",
                                         f"{name} is {source.width}x{source.height} pixels: too many to read.")
            if IMAGE_TYPES.get(source.format or "") != media_type:
                raise AttachmentRejected(422, "broken_attachment", f"{name} could not be read as {media_type}.")
            source.seek(0)  # an animated image: its first frame
            image = ImageOps.exif_transpose(source)  # the orientation EXIF gave, applied to the pixels
            image.load()
    except AttachmentRejected:
        raise
    except Exception:  # truncated or corrupt data: Pillow raises many kinds
        raise AttachmentRejected(422, "broken_attachment", f"{name} is damaged or not a readable image.") from None
    image.thumbnail((max_edge, max_edge))  # only ever scales down, keeping the aspect ratio
    image.info = {}  # EXIF, XMP, ICC, comments: none are written back
    return Upload(media_type, _encode(image, media_type), filename, image.width, image.height)


def _encode(image: Image.Image, media_type: str) -> bytes:
    out = io.BytesIO()
    if media_type == "image/jpeg":
        image = image if image.mode in ("RGB", "L") else image.convert("RGB")
        image.save(out, "JPEG", quality=90)
    elif media_type == "image/png":
        image.save(out, "PNG", optimize=True)
    elif media_type == "image/webp":
        image.save(out, "WEBP", quality=90)
    else:
        image.save(out, "GIF")
    return out.getvalue()


def _pdf_pages(data: bytes, name: str) -> int:
    try:
        pages = len(PdfReader(io.BytesIO(data)).pages)
    except Exception:  # pypdf's errors for a damaged or encrypted file
        raise AttachmentRejected(422, "broken_attachment", f"{name} is damaged, encrypted or not a PDF.") from None
    if pages == 0:
        raise AttachmentRejected(422, "broken_attachment", f"{name} has no pages.")
    return pages
