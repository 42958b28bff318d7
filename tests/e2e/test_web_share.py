"""Sharing and export in the browser against a real `parlor serve`: the owner makes a link in the Share
dialog (by keyboard), a fresh signed-out browser opens it and sees the chat (its image through the link's
own route), the banner and no composer, under the UI's CSP; the owner revokes it and the link then says so;
"Export" downloads the chat as Markdown and as JSON; axe finds no serious problem in the dialog or the
shared page."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from tests.client import post_chat
from tests.conftest import RunningServer, upstream_provider
from tests.e2e.browser import PageErrors, chromium, new_page, shot
from tests.e2e.test_web_a11y import _axe
from tests.e2e.test_web_csp import WATCH
from tests.e2e.test_web_images import picture
from tests.helpers.images import file_part
from tests.server import ParlorServer
from tests.upstream import Script, Upstream

QUESTION = "Which of these two bridges should we walk across first?"
ANSWER = ("Start with the **Ponte Vecchio**: it is the oldest, and the shops open early.\n\n"
          "1. Cross the Ponte Vecchio at 9:00.\n2. Walk along the river to the Ponte Santa Trinita.\n"
          "3. Stop for a coffee on the Oltrarno side.\n\nThe second bridge has the better view back.")


@pytest.fixture(scope="module")
def sharing(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    provider = {**upstream_provider(upstream, "eyes"), "vision": True}
    process = ParlorServer(tmp_path_factory.mktemp("share"), [provider]).start()
    try:
        yield RunningServer(process, process.create_user("sharer"))
    finally:
        process.stop()


def seed(server: RunningServer, upstream: Upstream) -> str:
    thread = f"trip-{uuid.uuid4().hex[:10]}"
    upstream.push(Script(text=ANSWER), match=QUESTION)  # no marker: the title shows in the screenshot
    message = {"id": uuid.uuid4().hex, "role": "user", "parts": [
        {"type": "text", "text": QUESTION}, file_part(picture(480, 300), "image/png", "bridges.png")]}
    assert post_chat(server.url, server.api_key, {"id": thread, "messages": [message]}).done
    return thread


async def test_share_open_signed_out_revoke_and_export(sharing: RunningServer, upstream: Upstream) -> None:
    thread = seed(sharing, upstream)
    async with chromium() as browser:
        owner_context, owner = await new_page(browser, sharing, path=f"/t/{thread}", bypass_csp=True)
        errors = PageErrors(owner)
        await expect(owner.get_by_test_id("message-assistant")).to_contain_text("Ponte Vecchio")

        # Share, by keyboard: the dialog opens with "Create link" focused; Enter makes the link
        await owner.get_by_test_id("share-button").focus()
        await owner.keyboard.press("Enter")
        dialog = owner.get_by_role("dialog", name="Share this chat")
        await expect(dialog.get_by_test_id("no-shares")).to_be_visible()
        await expect(dialog.get_by_test_id("create-share")).to_be_focused()
        await owner.keyboard.press("Enter")
        link = await dialog.get_by_test_id("share-url").input_value()
        assert link.startswith(f"{sharing.url}/s/") and thread not in link
        await expect(dialog.get_by_test_id("share-list").get_by_role("listitem")).to_have_count(1)
        assert await _axe(owner) == []
        await shot(owner, "share-dialog")
        await owner.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        await expect(owner.get_by_test_id("share-button")).to_be_focused()

        # a fresh, signed-out browser (the UI's CSP enforced) opens the link
        visitor_context = await browser.new_context(viewport={"width": 1200, "height": 780})
        visitor = await visitor_context.new_page()
        await visitor.add_init_script(WATCH)
        visitor_errors = PageErrors(visitor)
        await visitor.goto(link)
        await expect(visitor.get_by_test_id("shared-banner")).to_contain_text("Shared conversation — read only")
        await expect(visitor.get_by_test_id("chat-title")).to_contain_text(QUESTION)
        await expect(visitor.get_by_test_id("message-assistant")).to_contain_text("Ponte Santa Trinita")
        image = visitor.get_by_test_id("attachment-thumbnail").get_by_role("img", name="bridges.png")
        await expect(image).to_be_visible()
        assert await image.evaluate("img => img.naturalWidth") > 0
        await expect(visitor.get_by_test_id("message-input")).to_have_count(0)
        await expect(visitor.get_by_label("API key")).to_have_count(0)
        await expect(visitor.get_by_test_id("feedback-up")).to_have_count(0)
        await shot(visitor, "shared-chat")
        assert await visitor.evaluate("window.__csp") == []

        shared_in_owner = await owner_context.new_page()  # axe needs the CSP bypassed (it is injected inline)
        await shared_in_owner.goto(link)
        await expect(shared_in_owner.get_by_test_id("shared-banner")).to_be_visible()
        assert await _axe(shared_in_owner) == []
        await shared_in_owner.close()

        # Export: Markdown and JSON downloads
        await owner.get_by_test_id("export-button").click()
        async with owner.expect_download() as markdown_download:
            await owner.get_by_test_id("export-markdown").click()
        markdown = await markdown_download.value
        assert markdown.suggested_filename.endswith(".md")
        text = (await markdown.path()).read_text()
        assert text.startswith(f"# {QUESTION}") and "## You" in text and "## Parlor" in text
        assert "**Ponte Vecchio**" in text and f"![bridges.png](/api/files/{thread}/" in text
        await owner.get_by_test_id("export-button").click()
        async with owner.expect_download() as json_download:
            await owner.get_by_test_id("export-json").click()
        exported = json.loads((await (await json_download.value).path()).read_text())
        assert exported["id"] == thread and [m["role"] for m in exported["messages"]] == ["user", "assistant"]

        # revoke: the link then says it is no longer shared
        await owner.get_by_test_id("share-button").click()
        await dialog.get_by_test_id("revoke-share").click()
        await expect(dialog.get_by_test_id("no-shares")).to_be_visible()
        await dialog.get_by_test_id("close-share").click()
        await visitor.reload()
        await expect(visitor.get_by_text("This link is no longer shared")).to_be_visible()
        await expect(visitor.get_by_test_id("message-assistant")).to_have_count(0)

        errors.check()
        visitor_errors.check()  # the revoked link's 404 is the "Failed to load resource" allowed
        await visitor_context.close()
        await owner_context.close()
