"""Tool cards in the browser: compact (name, arguments, duration), opening to arguments and result or error; a
failed call is marked as such; live and after a reload, the cards show the server's own measured durations."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import PageErrors, chromium, idle, new_page, send, shot
from tests.upstream import Script, ScriptedToolCall


async def test_tool_cards_with_durations_and_errors(server: Any, upstream: Any) -> None:
    key = server.user("tools")
    question = "What time is it in Lisbon, and on Mars?"
    upstream.push(Script(tool_calls=[
        ScriptedToolCall("current_time", json.dumps({"timezone": "Europe/Lisbon"})),
        ScriptedToolCall("current_time", json.dumps({"timezone": "Mars/Olympus_Mons"})),
    ]), match=question)
    upstream.push(Script(text="It is afternoon in Lisbon; Mars has no IANA time zone."), match=question)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        await send(page, question)
        await idle(page)
        cards = page.get_by_test_id("tool-card")
        await expect(cards).to_have_count(2)
        ok, failed = cards.nth(0), cards.nth(1)
        await expect(ok).to_have_attribute("data-state", "output-available")
        await expect(ok).to_contain_text('timezone: "Europe/Lisbon"')
        await expect(ok.locator(".tool-meta")).to_have_text(re.compile(r"^(< 1 ms|\d+(\.\d)? m?s)$"))
        live = await ok.locator(".tool-meta").text_content()
        await expect(failed).to_have_attribute("data-state", "output-error")
        await expect(failed.locator(".tool-meta")).to_have_text("failed")

        # Closed by default; opening shows arguments and result (or the error).
        await expect(ok.get_by_test_id("tool-output")).to_be_hidden()
        await ok.locator("summary").click()
        await expect(ok.get_by_test_id("tool-input")).to_contain_text('"timezone": "Europe/Lisbon"')
        await expect(ok.get_by_test_id("tool-output")).to_contain_text('"weekday"')
        await failed.locator("summary").focus()
        await page.keyboard.press("Enter")  # keyboard opens it too
        await expect(failed.get_by_test_id("tool-error")).to_contain_text("unknown time zone")
        await shot(page, "tool-cards-open")

        # The stored message keeps the cards, with the server's measured duration: the one shown live.
        await page.reload()
        await expect(cards).to_have_count(2)
        await expect(cards.nth(0).locator(".tool-meta")).to_have_text(live or "?")
        await expect(cards.nth(1)).to_have_attribute("data-state", "output-error")
        errors.check()
        await context.close()
