"""The chat list in the browser: newest first, switching, deep links and back/forward, new chat, rename,
search and delete with a confirmation — each checked against the server."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import PageErrors, api, chromium, idle, new_page, seed_thread, send, shot, thread_id_of
from tests.upstream import Script


async def test_threads_sidebar(server: Any, upstream: Any) -> None:
    key = server.user("threads")
    questions = {"Lisbon": "Plan three days in Lisbon",
                 "asyncio": "How does asyncio schedule tasks?",
                 "sourdough": "Why did my sourdough not rise?"}
    for topic, question in questions.items():
        upstream.push(Script(text=f"All about {topic}."), match=question)
    lisbon = seed_thread(server, key, [questions["Lisbon"]])
    asyncio_ = seed_thread(server, key, [questions["asyncio"]])
    bread = seed_thread(server, key, [questions["sourdough"]])

    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        items = page.get_by_test_id("thread-item")
        await expect(items).to_have_count(3)
        # Newest first, titled from the first message.
        ids = [await items.nth(i).get_attribute("data-thread-id") for i in range(3)]
        assert ids == [bread, asyncio_, lisbon]
        await expect(items.first).to_contain_text("Why did my sourdough not rise?")

        # Switching threads loads each one's messages and puts it in the address.
        await page.get_by_role("link", name=re.compile("Lisbon")).click()
        await expect(page).to_have_url(re.compile(f"/t/{lisbon}$"))
        await expect(page.get_by_test_id("message-assistant")).to_have_text("All about Lisbon.")
        await expect(page.get_by_role("link", name=re.compile("Lisbon"))).to_have_attribute("aria-current", "page")
        await page.get_by_role("link", name=re.compile("asyncio")).click()
        await expect(page.get_by_test_id("message-assistant")).to_have_text("All about asyncio.")
        await page.go_back()
        await expect(page).to_have_url(re.compile(f"/t/{lisbon}$"))
        await expect(page.get_by_test_id("message-assistant")).to_have_text("All about Lisbon.")

        # Search (by title here; by message text in test_web_search_feedback.py).
        await page.get_by_label("Search chats").fill("sourdough")
        await expect(items).to_have_count(1)
        await page.get_by_label("Search chats").fill("")
        await expect(items).to_have_count(3)

        # Rename: the server has the new title.
        await page.get_by_role("button", name=re.compile("Rename .*asyncio")).click()
        await page.get_by_label("New title").fill("Event loops")
        await page.get_by_label("New title").press("Enter")
        await expect(page.get_by_role("link", name="Event loops")).to_be_visible()
        async with api(server, key) as client:  # the sidebar shows the title before the server has it
            for _ in range(50):
                title = (await client.get(f"/api/threads/{asyncio_}")).json()["title"]
                if title == "Event loops":
                    break
                await asyncio.sleep(0.1)
            assert title == "Event loops"

        # Delete asks first; cancelling keeps the thread, confirming removes it on the server.
        await page.get_by_role("button", name=re.compile("Delete .*sourdough")).click()
        dialog = page.get_by_test_id("confirm-dialog")
        await expect(dialog).to_be_visible()
        await shot(page, "delete-confirm")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(items).to_have_count(3)
        await page.get_by_role("button", name=re.compile("Delete .*sourdough")).click()
        await dialog.get_by_test_id("confirm-button").click()
        await expect(items).to_have_count(2)
        async with api(server, key) as client:
            assert (await client.get(f"/api/threads/{bread}")).status_code == 404

        # A new chat: empty, and once sent it is at the top of the list.
        await page.get_by_test_id("new-chat").click()
        await expect(page.get_by_text("How can I help?")).to_be_visible()
        await expect(page.get_by_test_id("message-input")).to_be_focused()
        await send(page, "What should I cook tonight?")
        await idle(page)
        fresh = thread_id_of(page)
        await expect(items.first).to_have_attribute("data-thread-id", fresh)
        await expect(items.first).to_contain_text("What should I cook tonight?")
        await shot(page, "threads")
        errors.check()
        await context.close()

        # A deep link opens the stored thread directly.
        context, page = await new_page(browser, server, key, path=f"/t/{lisbon}")
        await expect(page.get_by_test_id("message-user")).to_have_text("Plan three days in Lisbon")
        await expect(page.get_by_test_id("message-assistant")).to_have_text("All about Lisbon.")
        await expect(page.get_by_test_id("chat-title")).to_contain_text("Plan three days in Lisbon")
        await context.close()

        # Someone else's thread is not shown: it opens as an empty chat.
        context, page = await new_page(browser, server, server.user("other"), path=f"/t/{lisbon}")
        await expect(page.get_by_text("How can I help?")).to_be_visible()
        await expect(page.get_by_test_id("thread-item")).to_have_count(0)
        await context.close()
