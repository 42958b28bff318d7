"""Images and PDFs through `/v1/chat/completions`, sent by the official `openai` SDK to a real
`parlor serve`: checked and cleaned like the chat's, passed to a model that sees in its own format, and
refused (422, before any call) for a model that does not."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image

from tests.conftest import upstream_provider
from tests.helpers.images import jpeg_with_exif, pdf_bytes
from tests.server import ParlorServer
from tests.upstream import Script, Upstream


@pytest.fixture(scope="module")
def gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ParlorServer, str]]:
    blind = {**upstream_provider(upstream, "blind"), "model": "blind-model"}
    seeing = {**upstream_provider(upstream, "eyes"), "model": "eyes-model", "vision": True}
    process = ParlorServer(tmp_path_factory.mktemp("v1-eyes"), [blind, seeing]).start()
    try:
        yield process, process.create_user(f"v1-{uuid.uuid4().hex[:6]}")
    finally:
        process.stop()


def client(gateway: tuple[ParlorServer, str]) -> openai.OpenAI:
    server, key = gateway
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def sent_to(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if marker in str(r["messages"])]


def test_an_image_and_a_pdf_reach_a_model_that_sees_cleaned(gateway: tuple[ParlorServer, str], upstream: Upstream,
                                                            marker: str) -> None:
    upstream.push(Script(text="A red square and a letter."), match=marker)
    reply = client(gateway).chat.completions.create(model="eyes", messages=[{"role": "user", "content": [
        {"type": "text", "text": f"what are these {marker}"},
        {"type": "image_url", "image_url": {"url": data_url(jpeg_with_exif(), "image/jpeg")}},
        {"type": "file", "file": {"file_data": data_url(pdf_bytes(1), "application/pdf"), "filename": "a.pdf"}},
    ]}])
    assert reply.choices[0].message.content == "A red square and a letter."
    (request,) = sent_to(upstream, marker)
    text, image, pdf = request["messages"][-1]["content"]
    assert text == {"type": "text", "text": f"what are these {marker}"}
    sent = base64.b64decode(image["image_url"]["url"].split(",", 1)[1])
    assert b"SpyCam" not in sent and not Image.open(io.BytesIO(sent)).getexif()  # EXIF never left
    assert pdf["type"] == "file" and pdf["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


def test_a_model_that_cannot_see_is_a_422_before_any_call(gateway: tuple[ParlorServer, str], upstream: Upstream,
                                                         marker: str) -> None:
    image = {"type": "image_url", "image_url": {"url": data_url(jpeg_with_exif(), "image/jpeg")}}
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client(gateway).chat.completions.create(model="blind", messages=[{"role": "user", "content": [
            {"type": "text", "text": f"see {marker}"}, image]}])
    assert refused.value.body is not None and "model_cannot_read_images" in str(refused.value.body)
    assert not sent_to(upstream, marker)


@pytest.mark.parametrize(("url", "code"), [
    ("https://example.com/cat.png", "bad_attachment_url"),  # never fetched: no request goes out for a client
    ("data:image/png;base64,not-base64!", "bad_attachment_url"),
    (data_url(b"GIF89a" + b"\x00" * 20, "image/png"), "attachment_type_mismatch"),
    (data_url(b"plain text, no image", "image/png"), "unsupported_attachment"),
])
def test_bad_images_are_refused_with_a_code(gateway: tuple[ParlorServer, str], upstream: Upstream, marker: str,
                                            url: str, code: str) -> None:
    with pytest.raises(openai.APIStatusError) as refused:
        client(gateway).chat.completions.create(model="eyes", messages=[{"role": "user", "content": [
            {"type": "text", "text": f"see {marker}"}, {"type": "image_url", "image_url": {"url": url}}]}])
    assert 400 <= refused.value.status_code < 500 and code in str(refused.value.body)
    assert not sent_to(upstream, marker)
