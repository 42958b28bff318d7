"""Tool calls in the browser: the question from the tools issue shows two tool cards and the answer,
and the stored thread keeps them."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.async_api import async_playwright, expect

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, REPO, TIMEOUT_MS, _require_browser_and_build
from tests.upstream import Script, ScriptedToolCall

QUESTION = "what is 1234567 * 7654321 and how many messages do I have left today?"
SCREENSHOT = REPO / "docs" / "screenshots" / "tool-cards.png"


async def test_two_tool_cards_and_the_answer(server: Any, upstream: Any) -> None:
    _require_browser_and_build()
    upstream.push(Script(tool_calls=[
        ScriptedToolCall("calculator", json.dumps({"expression": "1234567 * 7654321"})),
        ScriptedToolCall("get_user_data", "{}"),
    ]), match=QUESTION)
    upstream.push(Script(text="1234567 * 7654321 = 9449772114007. Your limits are in the account card above.",
                         token_delay=0.02), match=QUESTION)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 700})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            await page.add_init_script(f"localStorage.setItem('parlor.apiKey', {json.dumps(server.api_key)})")
            await page.goto(server.url)
            box = page.get_by_test_id("message-input")
            await box.fill(QUESTION)
            await box.press("Enter")

            cards = page.get_by_test_id("tool-card")
            await expect(cards).to_have_count(2)
            await expect(page.locator('[data-tool="calculator"][data-state="output-available"]')).to_have_count(1)
            await expect(page.locator('[data-tool="get_user_data"][data-state="output-available"]')).to_have_count(1)
            await expect(page.get_by_test_id("message-assistant")).to_contain_text("account card above.")
            await expect(page.get_by_test_id("send-button")).to_be_visible()
            await page.locator('[data-tool="calculator"] summary').click()
            await expect(page.get_by_test_id("tool-output").first).to_contain_text("9449772114007")
            await page.screenshot(path=str(SCREENSHOT))
        finally:
            await browser.close()

    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}) as api:
        threads = (await api.get("/api/threads")).json()["threads"]
        thread_id = next(t["id"] for t in threads if t["title"] == QUESTION[:80])
        stored = (await api.get(f"/api/threads/{thread_id}")).json()
    tools = [p for p in stored["messages"][-1]["parts"] if p["type"].startswith("tool-")]
    assert [(p["type"], p["state"]) for p in tools] == [("tool-calculator", "output-available"),
                                                        ("tool-get_user_data", "output-available")]
    assert tools[0]["output"]["result"] == "9449772114007"
