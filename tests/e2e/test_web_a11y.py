"""Accessibility and steadiness: axe-core finds no serious problem (labels, roles, contrast) in the sign-in
screen and the chat in both themes; the keyboard alone drives the chat; streaming shifts no layout."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.browser import PageErrors, chromium, idle, new_page, send
from tests.e2e.test_browser import REPO, TIMEOUT_MS
from tests.upstream import Script

AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"

# Every layout shift not caused by input, summed while an answer streams (Cumulative Layout Shift).
WATCH_SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__shifts.push(entry.value);
}).observe({ type: 'layout-shift', buffered: true });
"""

ANSWER = ("Sure. Three things matter here:\n\n1. **Latency**: measure first token.\n2. **Throughput**.\n"
          "3. Cost.\n\n```python\nprint('hello')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")


async def _axe(page: Page) -> list[str]:
    assert AXE.exists(), "web/node_modules/axe-core is missing: run `npm ci` in web/"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    return list(result)


async def test_axe_finds_no_serious_problems(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("a11y")
    async with chromium() as browser:
        context = await browser.new_context(bypass_csp=True)  # axe is injected as an inline script
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(server.url)
        await expect(page.get_by_label("API key")).to_be_visible()
        assert await _axe(page) == []
        await context.close()
        for scheme in ("light", "dark"):
            upstream.push(Script(text=ANSWER), match=f"a11y {scheme} {marker}")
            context, page = await new_page(browser, server, key, color_scheme=scheme, bypass_csp=True)
            await send(page, f"a11y {scheme} {marker}")
            await idle(page)
            await expect(page.locator(".hljs-string").first).to_be_visible()
            assert await _axe(page) == [], scheme
            await context.close()


async def test_keyboard_only(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("keys")
    upstream.push(Script(text="First."), match=f"keys one {marker}")
    upstream.push(Script(text="Second."), match=f"keys two {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        box = page.get_by_test_id("message-input")
        await expect(box).to_be_focused()  # the page opens ready to type
        await page.keyboard.type(f"keys one {marker}")
        await page.keyboard.press("Shift+Enter")
        await page.keyboard.type("second line")
        assert await box.input_value() == f"keys one {marker}\nsecond line"
        await page.keyboard.press("Enter")
        await expect(page.get_by_test_id("message-assistant")).to_have_text("First.")
        await idle(page)
        await expect(box).to_be_focused()
        # Ctrl+Shift+O: a new chat, ready to type; Ctrl+K: search the chats.
        await page.keyboard.press("Control+Shift+O")
        await expect(page.get_by_text("How can I help?")).to_be_visible()
        await expect(box).to_be_focused()
        await page.keyboard.type(f"keys two {marker}")
        await page.keyboard.press("Enter")
        await expect(page.get_by_test_id("message-assistant")).to_have_text("Second.")
        await page.keyboard.press("Control+k")
        await expect(page.get_by_label("Search chats")).to_be_focused()
        await page.keyboard.type("keys one")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name=f"keys one {marker}\nsecond line")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_test_id("message-assistant")).to_have_text("First.")
        errors.check()
        await context.close()


async def test_streaming_shifts_no_layout(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("cls")
    upstream.push(Script(text=ANSWER * 3, token_delay=0.01), match=f"cls {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        await page.evaluate(WATCH_SHIFTS)
        await send(page, f"cls {marker}")
        await idle(page)
        shifts: list[float] = await page.evaluate("window.__shifts")
        print(f"layout shifts while streaming: {shifts}")
        assert sum(shifts) < 0.05, shifts
        await context.close()
