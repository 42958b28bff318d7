"""A reasoning model's thoughts in the browser: "Thinking…" while they stream, then folded under
"Thought for 2 s" (the server's measure), open on a click, and the same after a reload."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import chromium, idle, new_page, send, shot
from tests.upstream import Script

QUESTION = "what is two plus two, thinking it over?"
THOUGHT = "Two and two: count on from two, three, four. So four."


async def test_thoughts_stream_then_fold_under_how_long_they_took(server: Any, upstream: Any) -> None:
    # the thought comes at once, the answer's first token two seconds later: two seconds of thinking
    upstream.push(Script(thinking=THOUGHT, tokens=["Two plus two", " is **4**."], ttft=0.5, token_delay=2.0),
                  match=QUESTION)
    async with chromium() as browser:
        context, page = await new_page(browser, server)
        try:
            await send(page, QUESTION)
            reasoning = page.get_by_test_id("reasoning")
            await expect(reasoning.locator("summary")).to_have_text("Thinking…")
            await expect(page.get_by_test_id("message-assistant")).to_contain_text("is 4.")
            await idle(page)
            await expect(reasoning.locator("summary")).to_have_text("Thought for 2 s")
            assert await reasoning.get_attribute("open") is None  # folded
            await expect(reasoning.locator(".reasoning-text")).not_to_be_visible()
            await reasoning.locator("summary").click()
            await expect(reasoning.locator(".reasoning-text")).to_have_text(THOUGHT)
            await shot(page, "reasoning")

            await page.reload()  # the stored answer keeps how long it thought
            await expect(page.get_by_test_id("reasoning").locator("summary")).to_have_text("Thought for 2 s")
        finally:
            await context.close()
