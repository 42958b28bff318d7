"""Tool approval in the browser: a tool that needs the user's yes or no shows Approve and Deny (keyboard-usable,
with an optional reason); approved, it runs and the answer goes on in the same message; denied, it does not run
and the model is told the reason. Both outcomes stay after a reload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import RunningServer, upstream_provider
from tests.e2e.browser import PageErrors, chromium, idle, new_page, send, shot
from tests.e2e.test_web_a11y import _axe
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream


@pytest.fixture(scope="module")
def approving(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("web-approval"), [upstream_provider(upstream)],
                           PARLOR_APPROVAL_TOOLS='["current_time", "calculator"]').start()
    try:
        yield RunningServer(process, process.create_user("web-approver"))
    finally:
        process.stop()


def scripted(upstream: Upstream, question: str, tool: str, arguments: dict[str, Any], answer: str) -> None:
    upstream.push(Script(tool_calls=[ScriptedToolCall(tool, json.dumps(arguments))]), match=question)
    upstream.push(Script(text=answer), match=question)


async def test_approve_one_tool_and_deny_another(approving: RunningServer, upstream: Upstream) -> None:
    # plain questions (no test marker: the screenshot shows them); this module's server is its own
    first, second = "What time is it in Lisbon right now?", "Could you work out 6 * 7 for me?"
    scripted(upstream, first, "current_time", {"timezone": "Europe/Lisbon"}, "It is afternoon in Lisbon.")
    scripted(upstream, second, "calculator", {"expression": "6 * 7"}, "Fine, I will leave the sum to you.")
    async with chromium() as browser:
        context, page = await new_page(browser, approving, bypass_csp=True)  # axe is injected inline
        errors = PageErrors(page)
        await send(page, first)
        await idle(page)
        card = page.get_by_test_id("tool-card")
        await expect(card).to_have_attribute("data-state", "approval-requested")
        await expect(card.locator(".tool-meta")).to_have_text("needs your approval")
        panel = page.get_by_test_id("approval")
        await expect(panel).to_contain_text("wants to run current_time")
        assert await _axe(page) == []
        await shot(page, "tool-approval")

        # The keyboard answers: from the reason box, Tab reaches Approve.
        await panel.get_by_test_id("approval-reason").focus()
        await page.keyboard.press("Tab")
        await expect(panel.get_by_role("button", name="Approve")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(card).to_have_attribute("data-state", "output-available")
        await expect(page.locator(".msg-assistant").last).to_contain_text("It is afternoon in Lisbon.")
        await expect(page.locator(".msg-assistant")).to_have_count(1)  # the same message went on
        await idle(page)

        await send(page, second)
        denied = page.locator('[data-testid="tool-card"][data-tool="calculator"]')
        await expect(denied).to_have_attribute("data-state", "approval-requested")
        await idle(page)
        panel = page.get_by_test_id("approval")
        await panel.get_by_test_id("approval-reason").fill("I want to do it myself")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        await expect(panel.get_by_role("button", name="Deny")).to_be_focused()
        await page.keyboard.press("Space")
        await expect(denied).to_have_attribute("data-state", "output-denied")
        await expect(page.locator(".msg-assistant").last).to_contain_text("Fine, I will leave the sum to you.")
        await denied.locator("summary").click()
        await expect(denied.get_by_test_id("tool-denied")).to_contain_text("I want to do it myself")
        await shot(page, "tool-approval-denied")
        tool_results = [m for m in upstream.requests[-1]["messages"] if m["role"] == "tool"]
        assert "I want to do it myself" in tool_results[-1]["content"]
        await idle(page)

        await page.reload()  # both outcomes are stored
        await expect(page.get_by_test_id("tool-card").first).to_have_attribute("data-state", "output-available")
        await expect(denied).to_have_attribute("data-state", "output-denied")
        await expect(page.get_by_test_id("approval")).to_have_count(0)
        errors.check()
        await context.close()
