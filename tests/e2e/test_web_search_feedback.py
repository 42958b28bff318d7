"""Searching chats by what was said in them (the server's search, not only the loaded titles), and thumbs
up / down on answers: pressed state, comment, change of mind and clearing, all kept across a reload."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import PageErrors, api, chromium, new_page, seed_thread, shot
from tests.upstream import Script


async def test_search_finds_a_chat_by_a_word_in_its_messages(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("search")
    upstream.push(Script(text="Try the quetzal sanctuary near Monteverde."), match=marker)
    # The word is only in the second turn's answer: not in the title, nor in the first messages.
    birds = seed_thread(server, key, ["Ideas for a trip to Costa Rica", f"Where to see rare birds? {marker}"])
    seed_thread(server, key, ["Sourdough starter schedule"])
    seed_thread(server, key, ["Costa Rica visa rules"])

    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        items = page.get_by_test_id("thread-item")
        await expect(items).to_have_count(3)
        await page.keyboard.press("Control+k")
        search = page.get_by_label("Search chats")
        await expect(search).to_be_focused()
        await page.keyboard.type("QUETZAL", delay=30)
        await expect(items).to_have_count(1)
        await expect(items.first).to_have_attribute("data-thread-id", birds)
        await expect(items.first).to_contain_text("Ideas for a trip to Costa Rica")
        await shot(page, "search")
        await items.first.get_by_role("link").click()
        await expect(page).to_have_url(re.compile(f"/t/{birds}$"))
        await expect(page.get_by_test_id("message-assistant").last).to_contain_text("quetzal sanctuary")

        await search.fill("costa rica")
        await expect(items).to_have_count(2)
        await search.fill("nothing like this anywhere")
        await expect(page.get_by_test_id("search-empty")).to_have_text("No chat mentions “nothing like this anywhere”.")
        await search.fill("")
        await expect(items).to_have_count(3)
        errors.check()
        await context.close()


async def test_feedback_toggles_and_persists(server: Any) -> None:
    key = server.user("feedback")
    thread_id = seed_thread(server, key, ["Rate this answer", "And this one"])
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, path=f"/t/{thread_id}")
        errors = PageErrors(page)
        answers = page.locator('article[aria-label="Parlor said"]')
        await expect(answers).to_have_count(2)
        first, last = answers.nth(0), answers.nth(1)
        up, down = first.get_by_role("button", name="Good answer"), first.get_by_role("button", name="Bad answer")
        await expect(up).to_have_attribute("aria-pressed", "false")

        await down.click()
        await expect(down).to_have_attribute("aria-pressed", "true")
        comment = first.get_by_test_id("feedback-comment")
        await expect(comment).to_be_focused()
        await comment.fill("It only repeated me.")
        await comment.press("Enter")
        await expect(first.get_by_test_id("feedback-form")).to_have_count(0)
        await last.get_by_role("button", name="Good answer").click()
        await expect(last.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
        await last.get_by_test_id("feedback-comment").press("Escape")  # the comment is optional
        await shot(page, "feedback")

        ids = [await a.get_attribute("data-message-id") for a in (first, last)]
        async with api(server, key) as client:
            stored = {m["id"]: m["metadata"].get("feedback")
                      for m in (await client.get(f"/api/threads/{thread_id}")).json()["messages"]}
        assert stored[ids[0]] == {"rating": "down", "comment": "It only repeated me."}
        assert stored[ids[1]] == {"rating": "up", "comment": None}

        await page.reload()
        await expect(first.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "true")
        await expect(last.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
        # Changing one's mind, then clearing: pressing the chosen thumb again.
        await first.get_by_role("button", name="Good answer").click()
        await expect(first.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
        await expect(first.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "false")
        await page.keyboard.press("Escape")
        await last.get_by_role("button", name="Good answer").click()
        await expect(last.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "false")
        await page.reload()
        await expect(first.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
        await expect(last.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "false")
        async with api(server, key) as client:
            stored = {m["id"]: m["metadata"].get("feedback")
                      for m in (await client.get(f"/api/threads/{thread_id}")).json()["messages"]}
        assert stored[ids[0]] is not None and stored[ids[0]]["rating"] == "up" and stored.get(ids[1]) is None
        errors.check()
        await context.close()
