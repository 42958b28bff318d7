"""A message's images and PDFs on the way in: typed by their content, bounded, cleaned of metadata; and
what each provider's rule says they cost in a prompt."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from parlor.attachments import AttachmentLimits, AttachmentRejected, read_uploads
from parlor.attachments.intake import FileIn, read_upload
from parlor.attachments.tokens import file_tokens
from parlor.llm.types import MessageFile
from tests.helpers.images import GPS_IFD, MAKE, data_url, image_bytes, jpeg_with_exif, pdf_bytes

LIMITS = AttachmentLimits(max_bytes=200_000, max_count=2, max_edge=256)


def rejected(file: FileIn, limits: AttachmentLimits = LIMITS) -> AttachmentRejected:
    with pytest.raises(AttachmentRejected) as caught:
        read_upload(file, limits)
    return caught.value


def test_a_photo_loses_its_exif_and_keeps_its_orientation() -> None:
    original = jpeg_with_exif(64, 48, orientation=6)  # 6: shown turned a quarter clockwise
    assert Image.open(io.BytesIO(original)).getexif()[MAKE] == "SpyCam"  # the test's photo does carry it
    upload = read_upload(FileIn("image/jpeg", data_url(original, "image/jpeg"), "holiday.jpg"), LIMITS)
    cleaned = Image.open(io.BytesIO(upload.data))
    assert cleaned.format == "JPEG"
    assert not cleaned.getexif() and not cleaned.getexif().get_ifd(GPS_IFD)
    assert b"Exif" not in upload.data and b"SpyCam" not in upload.data
    assert (upload.width, upload.height) == cleaned.size == (48, 64)  # turned as the camera said
    assert upload.media_type == "image/jpeg" and upload.filename == "holiday.jpg"


@pytest.mark.parametrize(("kind", "media_type"), [("PNG", "image/png"), ("GIF", "image/gif"),
                                                  ("WEBP", "image/webp"), ("JPEG", "image/jpeg")])
def test_each_image_type_is_taken_and_scaled_down_to_the_edge(kind: str, media_type: str) -> None:
    upload = read_upload(FileIn(media_type, data_url(image_bytes(kind, 1024, 512), media_type)), LIMITS)
    assert upload.media_type == media_type
    assert (upload.width, upload.height) == (256, 128)
    assert Image.open(io.BytesIO(upload.data)).size == (256, 128)


def test_a_pdf_is_kept_as_sent_with_its_page_count() -> None:
    pdf = pdf_bytes(3)
    upload = read_upload(FileIn("application/pdf", data_url(pdf, "application/pdf"), "report.pdf"), LIMITS)
    assert (upload.media_type, upload.pages, upload.data) == ("application/pdf", 3, pdf)


def test_the_declared_type_must_match_the_content() -> None:
    error = rejected(FileIn("image/png", data_url(image_bytes("JPEG"), "image/png")))
    assert (error.status, error.code) == (422, "attachment_type_mismatch")
    assert "image/jpeg" in error.message


def test_other_files_are_refused() -> None:
    error = rejected(FileIn("image/png", data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")))
    assert (error.status, error.code) == (415, "unsupported_attachment")
    error = rejected(FileIn("text/plain", data_url(b"hello", "text/plain"), "notes.txt"))
    assert error.code == "unsupported_attachment" and "notes.txt" in error.message


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "data:image/png,notbase64", "data:image/png;base64,@@@",
                                 ""])
def test_a_broken_or_remote_url_is_refused(url: str) -> None:
    assert rejected(FileIn("image/png", url)).code == "bad_attachment_url"


def test_a_damaged_image_or_pdf_is_refused() -> None:
    truncated = image_bytes("PNG", 200, 200)[:60]
    assert rejected(FileIn("image/png", data_url(truncated, "image/png"))).code == "broken_attachment"
    assert rejected(FileIn("application/pdf", data_url(b"%PDF-1.4 nothing else", "application/pdf"))).code \
        == "broken_attachment"


def test_size_and_count_are_bounded() -> None:
    small = AttachmentLimits(max_bytes=2000, max_count=1, max_edge=256)
    big = image_bytes("BMP", 100, 100)  # uncompressed: 30 kB
    error = rejected(FileIn("image/png", data_url(big, "image/png")), small)
    assert (error.status, error.code) == (413, "attachment_too_large")
    one = FileIn("image/png", data_url(image_bytes(), "image/png"))
    with pytest.raises(AttachmentRejected) as caught:
        read_uploads([one, one], small)
    assert (caught.value.status, caught.value.code) == (413, "too_many_attachments")
    assert len(read_uploads([one], small)) == 1


def test_token_estimates_follow_each_providers_rule() -> None:
    photo = MessageFile("image/jpeg", width=4032, height=3024)
    # OpenAI: 4032x3024 fits 2048 -> 2048x1536, shorter side 768 -> 1024x768: 2x2 tiles
    assert file_tokens(photo, "openai") == 85 + 170 * 4
    assert file_tokens(MessageFile("image/png", width=512, height=512), "openai") == 85 + 170
    # Anthropic: scaled to 1568 on the long side (1568x1176), then w*h/750
    assert file_tokens(photo, "anthropic") == -(-1568 * 1176 // 750)
    assert file_tokens(MessageFile("image/png", width=200, height=150), "anthropic") == 40
    assert file_tokens(photo, "gemini") == 258
    report = MessageFile("application/pdf", pages=3)
    assert file_tokens(report, "gemini") == 3 * 258
    assert file_tokens(report, "anthropic") == 3 * 3000
    assert file_tokens(report, "openai") == 3 * 1765
