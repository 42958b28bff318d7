"""The real web client, in a real browser, against the real server.

Drives Debian's Chromium with Playwright (never `playwright install`): open the built UI that `parlor serve`
serves at `/`, sign in if asked, send one message, and watch the reply stream in through the AI SDK's own
`useChat`. Needs `web/dist` (`npm ci && npm run build` in web/) and /usr/bin/chromium; a missing one fails the
test rather than skipping it, so CI cannot go green without having run it.

Uses the async Playwright API so the event loop that pytest-asyncio shares with the `server`/`upstream`
fixtures keeps running while the browser works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import ConsoleMessage, Error, async_playwright, expect

from tests.upstream import Script

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
WEB_INDEX = REPO / "web" / "dist" / "index.html"
SCREENSHOT = REPO / "docs" / "screenshots" / "first-chat.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 20_000  # for each step that waits on the server or the model
PROMPT = "hello browser"
EXPECTED = "You said: hello browser"

# Records every text the first assistant message shows, so the test can check that what streamed in was
# always a growing prefix of the final text (no garbled or replaced content along the way).
RECORD_ASSISTANT_TEXT = """
window.__assistantTexts = [];
new MutationObserver(() => {
  const el = document.querySelector('[data-testid="message-assistant"]');
  if (!el) return;
  const text = el.textContent || '';
  const seen = window.__assistantTexts;
  if (seen[seen.length - 1] !== text) seen.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def _require_browser_and_build() -> None:
    """Fail, never skip: CI installs both, so a missing one is a broken setup."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
    assert WEB_INDEX.exists(), "web/dist/index.html is missing: run `npm ci && npm run build` in web/"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)


async def test_first_chat_in_browser(server: Any, upstream: Any, tmp_path: Path) -> None:
    _require_browser_and_build()
    # The default echo reply, paced so the browser visibly streams it: Stop shows while waiting, and the
    # text grows token by token ("You", " said:", " hello", " browser").
    upstream.push(Script(ttft=1.5, token_delay=0.2), match=PROMPT)  # slow enough to see Stop, even on a cold browser

    page_errors: list[str] = []
    console_errors: list[str] = []

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 700})
        try:
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))

            def on_console(msg: ConsoleMessage) -> None:
                if msg.type == "error":
                    console_errors.append(msg.text)

            page.on("console", on_console)
            await page.add_init_script(RECORD_ASSISTANT_TEXT)

            await page.goto(server.url)

            key_input = page.get_by_test_id("signin-key")
            message_input = page.get_by_test_id("message-input")
            await key_input.or_(message_input).first.wait_for()
            if await key_input.is_visible():
                await page.get_by_label("API key").fill(server.api_key)
                await page.get_by_test_id("signin-button").click()
                await expect(message_input).to_be_visible(timeout=TIMEOUT_MS)
                stored = await page.evaluate("localStorage.getItem('parlor.apiKey')")
                assert stored == server.api_key, "the key was not stored after signing in"

            await message_input.fill(PROMPT)
            await message_input.press("Enter")
            await expect(page.get_by_test_id("stop-button")).to_be_visible(timeout=TIMEOUT_MS)

            await expect(page.get_by_test_id("message-user")).to_have_text(PROMPT, timeout=TIMEOUT_MS)
            assert await message_input.input_value() == "", "the input was not cleared after sending"

            assistant = page.get_by_test_id("message-assistant")
            await expect(assistant).to_have_count(1, timeout=TIMEOUT_MS)
            await expect(assistant).to_have_attribute("aria-live", "polite", timeout=TIMEOUT_MS)
            await expect(assistant).to_contain_text(EXPECTED, timeout=TIMEOUT_MS)
            # The turn is over: Send is back, Stop is gone, no error shown.
            await expect(page.get_by_test_id("send-button")).to_be_visible(timeout=TIMEOUT_MS)
            await expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=TIMEOUT_MS)
            await expect(page.get_by_test_id("chat-error")).to_have_count(0, timeout=TIMEOUT_MS)

            final = await assistant.text_content() or ""
            assert final.startswith("You said: "), final
            seen: list[str] = await page.evaluate("window.__assistantTexts")
            assert seen and seen[-1] == final, seen
            for text in seen:
                assert final.startswith(text), f"streamed text {text!r} is not a prefix of {final!r}"
            assert len([t for t in seen if t]) >= 3, f"the reply did not stream in: {seen}"

            await page.screenshot(path=str(SCREENSHOT))
        except (Error, AssertionError):
            # Leave a picture of what the browser showed when a step timed out or failed.
            failure = tmp_path / "first-chat-failure.png"
            await page.screenshot(path=str(failure))
            print(f"screenshot of the failure: {failure}")
            raise
        finally:
            await browser.close()

    assert not page_errors, f"uncaught errors in the page: {page_errors}"
    # A 401 from the first /api/me is expected when auth is on; anything else logged as an error is not.
    unexpected = [m for m in console_errors if "401" not in m]
    assert not unexpected, f"errors in the browser console: {unexpected}"
