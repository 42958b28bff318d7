"""The web UI under its Content-Security-Policy (no inline script, no eval): it loads, renders Markdown,
math and highlighted code, and the browser reports no policy violation and no console error."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.e2e.browser import PageErrors, chromium, idle, new_page, send
from tests.upstream import Script

WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || '')));"""
ANSWER = ("Here is **bold**, some math $E = mc^2$ and\n\n$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\n"
          "and code:\n\n```python\ndef square(x):\n    return x * x\n```\n")


async def test_the_ui_runs_under_its_policy_without_a_violation(server: Any, upstream: Any, marker: str) -> None:
    upstream.push(Script(text=ANSWER), match=f"csp {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server)
        await page.add_init_script(WATCH)
        errors = PageErrors(page)  # a CSP violation is also a console error ("Refused to ...")
        await page.reload()
        await expect(page.get_by_test_id("message-input")).to_be_visible()
        response = await page.request.get(server.url)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        await send(page, f"csp {marker}")
        answer = page.get_by_test_id("message-assistant")
        await expect(answer.locator(".katex").first).to_be_visible()
        await expect(answer.locator("pre code")).to_contain_text("return x * x")
        await idle(page)
        assert await page.evaluate("window.__csp") == []
        errors.check()
        await context.close()
