"""How the UI looks and fits: the sign-in screen, light and dark themes following the system, a phone-width
screen (the chat list as a drawer, nothing wider than the screen), and the first load's JavaScript budget."""

from __future__ import annotations

import gzip
import re
from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import PHONE, PageErrors, chromium, idle, new_page, seed_thread, send, shot
from tests.e2e.test_browser import REPO, TIMEOUT_MS
from tests.upstream import Script

ANSWER = """Here is a short comparison:

| language | typing | first release |
|---|---|---|
| Python | dynamic | 1991 |
| TypeScript | static | 2012 |

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

The area of a circle is $$A = \\pi r^2$$ and `len()` counts items."""


async def _background(page: Any) -> str:
    return str(await page.evaluate("getComputedStyle(document.body).backgroundColor"))


async def test_sign_in_screen(server: Any) -> None:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 900, "height": 640})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(server.url)
        await expect(page.get_by_role("heading", name="Sign in to Parlor")).to_be_visible()
        await page.get_by_label("API key").fill("pk-not-a-real-key")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_test_id("signin-error")).to_have_text("That key was not accepted.")
        await shot(page, "sign-in")
        await page.get_by_label("API key").fill(server.api_key)
        await page.get_by_label("API key").press("Enter")
        await expect(page.get_by_test_id("message-input")).to_be_focused()
        await expect(page.get_by_test_id("tier-badge")).to_have_text("unlimited")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_label("API key")).to_be_visible()
        assert await page.evaluate("localStorage.getItem('parlor.apiKey')") is None


async def test_light_and_dark_follow_the_system(server: Any, upstream: Any) -> None:
    # Screenshots for the README: plain questions (each is this test's own: the user is new, the texts unique).
    key = server.user("looks")
    seed_thread(server, key, ["Plan a weekend in Lisbon"])
    seed_thread(server, key, ["Explain Python's asyncio event loop"])
    seed_thread(server, key, ["Draft a polite reminder email"])
    questions = {"light": "Compare Python and TypeScript, with a short example.",
                 "dark": "Compare Python and TypeScript, with a short example, please."}
    async with chromium() as browser:
        for scheme in ("light", "dark"):
            upstream.push(Script(text=ANSWER, token_delay=0.005), match=questions[scheme])
            context, page = await new_page(browser, server, key, color_scheme=scheme)
            errors = PageErrors(page)
            await send(page, questions[scheme])
            assistant = page.get_by_test_id("message-assistant")
            await expect(assistant.locator("table")).to_be_visible()
            await idle(page)
            await expect(assistant.locator(".hljs-keyword").first).to_be_visible()
            await expect(assistant.locator(".katex").first).to_be_visible()
            background = await _background(page)
            if scheme == "dark":
                assert background == "rgb(21, 23, 28)", background
            else:
                assert background == "rgb(255, 255, 255)", background
            await page.mouse.move(5, 5)
            await shot(page, "chat-dark" if scheme == "dark" else "chat-light")
            errors.check()
            await context.close()


async def test_phone_width(server: Any, upstream: Any) -> None:
    key = server.user("phone")
    upstream.push(Script(text="Sure! Here are three ideas:\n\n1. A picnic in the park\n2. A museum visit\n"
                              "3. Cooking dinner together\n\n```sh\necho 'a long line of code that must scroll "
                              "sideways rather than widen the page'\n```"), match="Ideas for a rainy Sunday?")
    seed_thread(server, key, ["An older chat about trains"])
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, viewport=PHONE, is_mobile=True, has_touch=True)
        errors = PageErrors(page)
        # The chat list is a drawer, closed at first.
        await expect(page.get_by_test_id("sidebar")).to_be_hidden()
        await send(page, "Ideas for a rainy Sunday?")
        await idle(page)
        await expect(page.get_by_test_id("message-assistant")).to_contain_text("Cooking dinner together")
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the phone"
        box = await page.get_by_test_id("message-input").bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
        await shot(page, "phone")
        await page.get_by_test_id("menu-button").click()
        drawer = page.get_by_test_id("drawer")
        await expect(drawer.get_by_test_id("thread-item")).to_have_count(2)
        await shot(page, "phone-drawer")
        await drawer.get_by_role("link", name=re.compile("trains")).click()
        await expect(page.get_by_test_id("drawer")).to_have_count(0)
        await expect(page.get_by_test_id("message-user")).to_contain_text("An older chat about trains")
        errors.check()
        await context.close()


def test_first_load_is_under_300_kb_of_gzipped_javascript() -> None:
    dist = REPO / "web" / "dist"
    index = (dist / "index.html").read_text()
    initial = re.findall(r'(?:src|href)="/(assets/[^"]+\.js)"', index)
    assert initial, index
    sizes = {name: len(gzip.compress((dist / name).read_bytes(), 9)) for name in initial}
    total = sum(sizes.values())
    print(f"first-load JavaScript, gzipped: {total / 1024:.1f} KiB {sizes}")
    assert total < 300 * 1024, sizes
    # KaTeX and highlight.js come later, only for messages that need them.
    assert not any("mathPlugin" in n or "highlightPlugin" in n for n in initial), initial
