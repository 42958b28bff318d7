"""Reload mid-answer resumes it; Stop stops it on the server and keeps the partial."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright, expect

from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _require_browser_and_build
from tests.upstream import Script

TOKENS = [f" t{i}" for i in range(60)]


async def open_chat(page: Page, server: Any) -> None:
    await page.add_init_script(f"localStorage.setItem('parlor.apiKey', {json.dumps(server.api_key)})")
    await page.goto(server.url)
    await expect(page.get_by_test_id("message-input")).to_be_visible()


async def test_a_reload_mid_answer_resumes_it(server: Any, upstream: Any, marker: str) -> None:
    _require_browser_and_build()
    upstream.push(Script(tokens=TOKENS, token_delay=0.05), match=marker)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            await open_chat(page, server)
            assert "/t/" in page.url
            await page.get_by_test_id("message-input").fill(f"resume me {marker}")
            await page.get_by_test_id("message-input").press("Enter")
            await expect(page.get_by_test_id("message-assistant")).to_contain_text("t5")
            address = page.url
            await page.reload()
            assert page.url == address
            await expect(page.get_by_test_id("message-user")).to_have_text(f"resume me {marker}")
            await expect(page.get_by_test_id("message-assistant")).to_have_text("".join(TOKENS).strip())
            await expect(page.get_by_test_id("message-assistant")).to_have_count(1)
        finally:
            await browser.close()


async def test_stop_stops_the_answer_on_the_server(server: Any, upstream: Any, marker: str) -> None:
    _require_browser_and_build()
    upstream.push(Script(tokens=TOKENS, token_delay=0.05), match=marker)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            await open_chat(page, server)
            await page.get_by_test_id("message-input").fill(f"stop me {marker}")
            await page.get_by_test_id("message-input").press("Enter")
            await expect(page.get_by_test_id("message-assistant")).to_contain_text("t3")
            await page.get_by_test_id("stop-button").click()
            await expect(page.get_by_test_id("send-button")).to_be_visible()
            thread_id = page.url.rsplit("/t/", 1)[1]
        finally:
            await browser.close()
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}) as api:
        for _ in range(100):
            answer = (await api.get(f"/api/threads/{thread_id}")).json()["messages"][-1]
            if answer["metadata"]["status"] == "aborted":
                break
        assert answer["metadata"]["status"] == "aborted"
        text = "".join(p["text"] for p in answer["parts"] if p["type"] == "text")
        assert text and len(text) < len("".join(TOKENS))
