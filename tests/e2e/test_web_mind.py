"""Custom instructions, memories and usage in the browser, checked against the server: instructions set on
the account page reach the model's system prompt; a memory saved by the `remember` tool shows in the chat
with Undo, which forgets it; memories are edited, added and deleted on the account page (with their chat
linked); the usage section shows today's tokens on a meter, the requests left and a 30-day chart. By
keyboard, with an axe check, and screenshots for the README."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.conftest import RunningServer, upstream_provider
from tests.e2e.browser import PageErrors, api, chromium, idle, new_page, send, shot
from tests.e2e.test_web_a11y import _axe
from tests.e2e.test_web_csp import WATCH
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream, last_user_text

# The page's own scroller brings a section to the top (scrollIntoView scrolled the window too, near the end)
SCROLL_TO = """e => { const s = e.closest('.page-scroll');
  s.scrollTop += e.getBoundingClientRect().top - s.getBoundingClientRect().top - 8; }"""
TIERS = {"standard": {"requests_per_minute": 20, "requests_per_hour": 300, "tokens_per_day": 20_000}}


@pytest.fixture(scope="module")
def mind_server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose default tier has request limits and a daily token budget (for the usage section)."""
    process = ParlorServer(tmp_path_factory.mktemp("mind-web"), [upstream_provider(upstream)],
                           PARLOR_TIERS=json.dumps(TIERS), PARLOR_DEFAULT_TIER="standard").start()
    try:
        yield RunningServer(process, process.create_user("mind"))
    finally:
        process.stop()


def seed_usage(server: RunningServer, user_id: str) -> None:
    """Three weeks of earlier use, as the ledger writes it (for a chart with something in it)."""
    now = datetime.now(UTC).replace(tzinfo=None, hour=9)
    rows = [(uuid.uuid4().hex, f"seed-{day}", user_id, "up", "test-model", 300 + (day * 137) % 900,
             120 + (day * 53) % 400, 0.0, "complete", (now - timedelta(days=day)).isoformat(sep=" "))
            for day in range(1, 22) if day % 6]
    with sqlite3.connect(server.process.data_dir / "parlor.db") as db:
        db.executemany("INSERT INTO usage (id, request_id, user_id, provider, model, tokens_in, tokens_out, cost_usd,"
                       " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


async def open_account(page: Page) -> None:
    await page.get_by_test_id("account-link").click()
    await expect(page).to_have_url(re.compile("/account$"))
    await expect(page.get_by_test_id("account-page")).to_be_visible()


def prompt_of(upstream: Upstream, text: str) -> str:
    found = [r for r in upstream.requests if last_user_text(r) == text]
    assert found, f"no request for {text!r}"
    return str(found[-1]["messages"][0]["content"])


async def test_instructions_memories_and_usage(mind_server: RunningServer, upstream: Upstream, marker: str) -> None:
    server = mind_server
    key = server.api_key
    async with api(server, key) as client:
        me = (await client.get("/api/me")).json()
    seed_usage(server, me["id"])
    fact = "Their name is Zorblat."
    upstream.push(Script(tool_calls=[ScriptedToolCall("remember", json.dumps({"fact": fact}))]), match=f"zorb {marker}")
    upstream.push(Script(text="Nice to meet you, Zorblat!"), match=f"zorb {marker}")

    async with chromium() as browser:
        context, page = await new_page(browser, server, key)  # under the UI's CSP: the chart must keep to it
        await page.add_init_script(WATCH)
        await page.reload()
        await expect(page.get_by_test_id("message-input")).to_be_visible()
        errors = PageErrors(page)  # a CSP violation is also a console error ("Refused to ...")

        # The remember tool's result in the chat: what was saved, and Undo forgets it.
        await send(page, f"My name is Zorblat. zorb {marker}")
        await idle(page)
        notice = page.get_by_test_id("remember-notice")
        await expect(notice).to_contain_text(f"Saved to memory: {fact}")
        async with api(server, key) as client:
            saved = (await client.get("/api/memories")).json()["memories"]
        assert [m["text"] for m in saved] == [fact]
        await notice.get_by_role("button", name=f"Undo: forget “{fact}”").click()
        await expect(notice).to_contain_text(f"Forgotten: {fact}")
        async with api(server, key) as client:
            assert (await client.get("/api/memories")).json()["memories"] == []

        # Again, kept this time: the account page lists it with the chat it came from.
        upstream.push(Script(tool_calls=[ScriptedToolCall("remember", json.dumps({"fact": fact}))]),
                      match=f"again {marker}")
        upstream.push(Script(text="Noted again."), match=f"again {marker}")
        await send(page, f"Please remember my name. again {marker}")
        await idle(page)
        await expect(page.get_by_test_id("remember-notice").nth(1)).to_contain_text("Saved to memory")
        thread = page.url.rsplit("/t/", 1)[1]
        async with api(server, key) as client:  # a title without the test's marker, for the screenshots
            renamed = await client.patch(f"/api/threads/{thread}", json={"title": "Introductions"})
            assert renamed.status_code == 200, renamed.text
        await page.reload()
        await expect(page.get_by_test_id("message-input")).to_be_visible()

        await open_account(page)
        # Custom instructions, typed and saved by keyboard.
        about = page.get_by_label("What should Parlor know about you?")
        await about.click()
        await page.keyboard.type("I keep bees in Porto.")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("How should it answer?")).to_be_focused()
        await page.keyboard.type("Short answers, metric units.")
        await expect(page.get_by_text("28 / 1500 characters")).to_be_visible()
        await page.get_by_role("button", name="Save instructions").click()
        await expect(page.get_by_test_id("instructions-status")).to_contain_text(re.compile(r"Saved: \d+ of 400"))

        memories = page.get_by_test_id("memory-row")
        await expect(memories).to_have_count(1)
        link = memories.first.get_by_test_id("memory-thread")
        await expect(link).to_have_attribute("href", f"/t/{thread}")
        await expect(link).to_have_text("from “Introductions”")
        # Edit it inline, by keyboard: Enter saves.
        await memories.first.get_by_role("button", name=f"Edit “{fact}”").focus()
        await page.keyboard.press("Enter")
        edit = page.get_by_label("Memory text")
        await expect(edit).to_be_focused()
        await edit.fill("Their name is Zorblat the Great.")
        await page.keyboard.press("Enter")
        await expect(memories.first.get_by_test_id("memory-text")).to_have_text("Their name is Zorblat the Great.")
        # Add one, then delete it after the confirmation.
        await page.get_by_label("Add a memory").fill("Likes strong tea.")
        await page.keyboard.press("Enter")
        await expect(memories).to_have_count(2)
        await page.get_by_role("button", name="Delete “Likes strong tea.”").click()
        dialog = page.get_by_test_id("confirm-dialog")
        await expect(dialog).to_contain_text("will be forgotten")
        await dialog.get_by_role("button", name="Delete").click()
        await expect(memories).to_have_count(1)
        await page.get_by_label("Add a memory").fill("Prefers metric units.")
        await page.keyboard.press("Enter")
        await expect(memories).to_have_count(2)
        async with api(server, key) as client:
            listed = {m["text"] for m in (await client.get("/api/memories")).json()["memories"]}
            instructions = (await client.get("/api/me/instructions")).json()
        assert listed == {"Their name is Zorblat the Great.", "Prefers metric units."}
        assert instructions["about"] == "I keep bees in Porto."
        assert instructions["style"] == "Short answers, metric units."

        # Usage: the meter, the requests left, the chart (its table holds 30 days, the seeded ones among them).
        usage = page.get_by_test_id("usage-section")
        await expect(usage.get_by_role("meter", name="Tokens today")).to_be_visible()
        await expect(usage.get_by_test_id("usage-budget")).to_contain_text("of 20,000")
        await expect(usage.get_by_test_id("usage-requests")).to_contain_text(re.compile(r"left this minute\d+ of 20"))
        await expect(usage.get_by_test_id("usage-table").locator("tbody tr")).to_have_count(30)
        canvas = usage.get_by_test_id("usage-canvas")
        await expect(canvas).to_have_attribute("aria-label", re.compile(r"in all; the busiest day"))
        assert (await canvas.bounding_box() or {}).get("height", 0) > 100
        assert await page.evaluate("""() => {  // the bars were painted: some pixel is not blank
            const c = document.querySelector('[data-testid=usage-canvas]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
            return false; }""")
        assert await page.evaluate("window.__csp") == []

        await page.evaluate("document.activeElement.blur()")
        await page.get_by_test_id("instructions-section").evaluate(SCROLL_TO)
        await shot(page, "account-memories")
        await usage.evaluate(SCROLL_TO)
        await shot(page, "account-usage")

        # The memory's link opens the chat it came from; the instructions reach the model in a new chat.
        await memories.last.get_by_test_id("memory-thread").click()
        await expect(page).to_have_url(re.compile(f"/t/{thread}$"))
        await expect(page.get_by_text("Nice to meet you, Zorblat!")).to_be_visible()
        await page.goto(server.url + "/")
        await send(page, f"What should I plant? plant {marker}")
        await idle(page)
        system = prompt_of(upstream, f"What should I plant? plant {marker}")
        assert "<about_the_user>\nI keep bees in Porto.\n</about_the_user>" in system
        assert "Their name is Zorblat the Great." in system
        assert await page.evaluate("window.__csp") == []
        errors.check()
        await context.close()

        # axe is injected as an inline script: a context of its own that bypasses the policy
        context, page = await new_page(browser, server, key, bypass_csp=True)
        await open_account(page)
        await expect(page.get_by_test_id("usage-canvas")).to_be_visible()
        await expect(page.get_by_test_id("memory-row")).to_have_count(2)
        assert await _axe(page) == []
        await context.close()

