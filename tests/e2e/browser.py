"""Helpers for the web UI's browser tests: Debian's Chromium through Playwright, a signed-in page, screenshots,
and threads seeded through the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright, expect

from tests.client import chat
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, REPO, TIMEOUT_MS, _require_browser_and_build

SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1200, "height": 780}
PHONE: ViewportSize = {"width": 390, "height": 844}


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    _require_browser_and_build()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class PageErrors:
    """Uncaught errors of a page; console errors other than expected HTTP failures."""

    def __init__(self, page: Page, allowed: tuple[str, ...] = ()):
        self.errors: list[str] = []
        self.allowed = ("401", "Failed to load resource", *allowed)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text)
                if msg.type == "error" and not any(a in msg.text for a in self.allowed) else None)

    def check(self) -> None:
        assert not self.errors, f"errors in the page: {self.errors}"


async def new_page(browser: Browser, server: Any, key: str | None = None, path: str = "/",
                   color_scheme: Literal["light", "dark"] = "light", viewport: ViewportSize | None = None,
                   **context_options: Any) -> tuple[BrowserContext, Page]:
    """A page signed in with `key` (default: the fixture's user), opened at `path`, with the composer ready."""
    context = await browser.new_context(viewport=viewport or DESKTOP, color_scheme=color_scheme, **context_options)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.add_init_script(f"localStorage.setItem('parlor.apiKey', {json.dumps(key or server.api_key)})")
    await page.goto(server.url + path)
    await expect(page.get_by_test_id("message-input")).to_be_visible()
    return context, page


async def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("message-input")
    await box.fill(text)
    await box.press("Enter")


async def idle(page: Page) -> None:
    """The turn is over: Send is back."""
    await expect(page.get_by_test_id("send-button")).to_be_visible()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def thread_id_of(page: Page) -> str:
    return page.url.rsplit("/t/", 1)[1]


def api(server: Any, key: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {key or server.api_key}"},
                             timeout=30)


def seed_thread(server: Any, key: str, texts: list[str], thread_id: str | None = None) -> str:
    """A thread with one finished turn per text (the upstream's default echo answers each)."""
    thread_id = thread_id or f"seed-{uuid.uuid4().hex[:12]}"
    for text in texts:
        result = chat(server.url, key, thread_id, text)
        assert result.status == 200 and result.done, result.body
    return thread_id
