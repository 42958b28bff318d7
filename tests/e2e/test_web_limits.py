"""A 429 in the browser: a server of its own with a tiny tier; the second message in a minute is refused, and the
page says why, which tier the user is on, and when they can try again (from Retry-After)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import upstream_provider
from tests.e2e.browser import PageErrors, chromium, idle, new_page, send, shot
from tests.server import ParlorServer
from tests.upstream import Script, Upstream

TIERS = {"tiny": {"requests_per_minute": 1, "requests_per_hour": 100}, "unlimited": {}}


@pytest.fixture(scope="module")
def tiny(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("tiny"), [upstream_provider(upstream)],
                           PARLOR_TIERS=json.dumps(TIERS), PARLOR_DEFAULT_TIER="tiny", PARLOR_LOG_LEVEL="warning")
    process.start()
    try:
        yield process
    finally:
        process.stop()


class _Server:
    def __init__(self, process: ParlorServer, key: str):
        self.url, self.api_key = process.url, key


async def test_rate_limited_message_says_when_and_which_tier(tiny: ParlorServer, upstream: Any, marker: str) -> None:
    key = tiny.create_user(f"tiny-{marker}")
    first, second = "Summarise the plot of Hamlet in two sentences.", "And the plot of Macbeth?"
    upstream.push(Script(text="A prince avenges his father's murder. Almost everyone dies."), match=first)
    upstream.push(Script(text="Not reached: the tier allows one request a minute."), match=second)
    async with chromium() as browser:
        context, page = await new_page(browser, _Server(tiny, key), key)
        errors = PageErrors(page, allowed=("429",))
        await expect(page.get_by_test_id("tier-badge")).to_have_text("tiny")
        await send(page, first)
        await expect(page.get_by_test_id("message-assistant")).to_contain_text("Almost everyone dies.")
        await idle(page)

        await send(page, second)
        alert = page.get_by_test_id("chat-error")
        await expect(alert).to_have_attribute("data-kind", "rate-limited")
        await expect(alert).to_contain_text("Your tier: tiny (1 request a minute)")
        await expect(alert).to_contain_text(re.compile(r"try again in \d+ s \(at \d\d:\d\d"))
        retry = page.get_by_test_id("retry-button")
        await expect(retry).to_be_disabled()
        await expect(retry).to_have_text(re.compile(r"Retry in \d+ s"))
        # The refused question stays on screen, to be sent again.
        await expect(page.get_by_test_id("message-user").last).to_have_text(second)
        await shot(page, "rate-limited")
        errors.check()
        await context.close()
