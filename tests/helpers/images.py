"""Images and PDFs made on the spot for the attachment tests (Pillow, fpdf2), and their data URLs."""

from __future__ import annotations

import base64
import io

from fpdf import FPDF
from PIL import Image

GPS_IFD = 0x8825
MAKE, ORIENTATION = 0x010F, 0x0112


def jpeg_with_exif(width: int = 64, height: int = 48, orientation: int = 1) -> bytes:
    """A JPEG that says where and with what camera it was taken (and how to turn it)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[MAKE] = "SpyCam"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def image_bytes(kind: str = "PNG", width: int = 40, height: int = 30, color: tuple[int, int, int] = (20, 120, 220)
                ) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, kind)
    return out.getvalue()


def pdf_bytes(pages: int = 2) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(text=f"Page {n + 1} of the attachment")
    return bytes(pdf.output())


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def file_part(data: bytes, media_type: str, filename: str = "photo.png") -> dict[str, str]:
    """An AI SDK file part, as `sendMessage({files})` sends it."""
    return {"type": "file", "mediaType": media_type, "url": data_url(data, media_type), "filename": filename}
