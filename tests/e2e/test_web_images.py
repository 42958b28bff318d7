"""Images in the browser against a real `parlor serve` whose scripted OpenAI upstream reads images: attach one
with the paperclip and another by dropping it, see the previews, send, see the thumbnails (after a reload,
loaded from the owner-only route with the key), open the lightbox and close it with Esc, edit the message
and resend it with its image; the upstream got the images as `image_url` parts."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from PIL import Image, ImageDraw
from playwright.async_api import expect

from tests.conftest import RunningServer, upstream_provider
from tests.e2e.browser import PageErrors, chromium, idle, new_page, send, shot
from tests.server import ParlorServer
from tests.upstream import Script, Upstream


@pytest.fixture(scope="module")
def seeing(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    provider = {**upstream_provider(upstream, "eyes"), "vision": True}
    process = ParlorServer(tmp_path_factory.mktemp("images"), [provider]).start()
    try:
        yield RunningServer(process, process.create_user("viewer"))
    finally:
        process.stop()


def picture(width: int, height: int) -> bytes:
    """Stripes and a circle: something a screenshot shows plainly."""
    image = Image.new("RGB", (width, height), (250, 245, 235))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 80):
        draw.rectangle((x, 0, x + 39, height), fill=(40, 110, 200))
    draw.ellipse((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(220, 60, 50))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


DROP = """async ([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: 'image/png' }));
  const zone = document.querySelector('[data-testid="chat-drop-zone"]');
  for (const type of ['dragenter', 'dragover', 'drop'])
    zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
}"""


async def test_attach_send_see_thumbnails_and_lightbox(seeing: RunningServer, upstream: Upstream, tmp_path: Path,
                                                       marker: str) -> None:
    picked = tmp_path / "stripes.png"
    picked.write_bytes(picture(640, 400))
    dropped = picture(300, 300)
    upstream.push(Script(text="Blue stripes behind a red circle."), match=marker)

    async with chromium() as browser:
        context, page = await new_page(browser, seeing)
        errors = PageErrors(page)
        await page.get_by_test_id("file-input").set_input_files(picked)
        await page.evaluate(DROP, ["dropped.png", base64.b64encode(dropped).decode()])
        previews = page.get_by_test_id("pending-files")
        await expect(previews.get_by_role("img")).to_have_count(2)
        await expect(previews.get_by_role("img", name="stripes.png")).to_be_visible()
        await shot(page, "images-attached")
        await page.get_by_role("button", name="Remove dropped.png").click()
        await expect(previews.get_by_role("img")).to_have_count(1)

        await send(page, f"What is in this picture? {marker}")
        await idle(page)
        await expect(page.get_by_test_id("message-assistant").last).to_contain_text("red circle")
        await expect(page.get_by_test_id("pending-files")).to_have_count(0)

        (request,) = [r for r in upstream.requests if marker in orjson.dumps(r).decode()]
        content = [m for m in request["messages"] if m["role"] == "user"][-1]["content"]
        assert [p["type"] for p in content] == ["text", "image_url"]  # the removed one was never sent
        url = content[1]["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (640, 400)

        # Reloaded: the thumbnail comes from the owner's route, fetched with the key.
        await page.reload()
        thumbnail = page.get_by_test_id("attachment-thumbnail")
        image = thumbnail.get_by_role("img", name="stripes.png")
        await expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        assert await image.evaluate("img => img.complete && img.naturalWidth") == 640
        await shot(page, "images-thumbnail")

        await thumbnail.click()
        lightbox = page.get_by_test_id("lightbox")
        await expect(lightbox).to_be_visible()
        await expect(page.get_by_role("button", name="Close image")).to_be_focused()
        await shot(page, "images-lightbox")
        await page.keyboard.press("Escape")
        await expect(lightbox).to_have_count(0)

        # Edited and resent: the image goes with the new text (the server keeps the stored file).
        upstream.push(Script(text="Still the stripes."), match=f"edited {marker}")
        await page.get_by_test_id("edit-message").click()
        await page.get_by_test_id("edit-input").fill(f"And now? edited {marker}")
        await page.get_by_test_id("edit-send").click()
        await idle(page)
        await expect(page.get_by_test_id("message-assistant").last).to_contain_text("Still the stripes.")
        (edited,) = [r for r in upstream.requests if f"edited {marker}" in orjson.dumps(r).decode()]
        content = [m for m in edited["messages"] if m["role"] == "user"][-1]["content"]
        assert [p["type"] for p in content] == ["text", "image_url"] and content[1]["image_url"]["url"] == url
        errors.check()
        await context.close()
