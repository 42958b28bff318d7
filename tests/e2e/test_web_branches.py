"""Versions and branches in the browser: a regenerated answer keeps the first one ("2/2", and "Previous
version" shows it again), an edit starts a branch (the question shows "2/2", the old branch a click away),
the navigator works from the keyboard, axe finds no serious problem, and the server agrees with the page."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.browser import PageErrors, api, chromium, idle, new_page, send, shot, thread_id_of
from tests.e2e.test_web_a11y import _axe
from tests.upstream import Script

FIRST, SECOND = "Sage green: calm, and it hides splashes.", "Warm white: it keeps a small kitchen bright."
EDITED = "An apple, kept cool and away from bananas."


async def stored_texts(server: Any, key: str, thread_id: str) -> list[str]:
    async with api(server, key) as client:
        messages = (await client.get(f"/api/threads/{thread_id}")).json()["messages"]
    return ["".join(p.get("text", "") for p in m["parts"]) for m in messages]


def versions_of(page: Page, testid: str) -> Any:
    """The version navigator of the (only) message shown with this test id."""
    return page.locator("article", has=page.get_by_test_id(testid)).get_by_role("group", name="Versions")


async def test_regenerate_and_edit_make_versions_to_step_through(server: Any, upstream: Any) -> None:
    key = server.user("branches")
    question, edited = "Name a colour for a kitchen wall", "Name a fruit that keeps for a week"
    upstream.push(Script(text=FIRST), match=question)
    upstream.push(Script(text=SECOND), match=question)
    upstream.push(Script(text=EDITED), match=edited)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, bypass_csp=True)  # axe is an inline script
        errors = PageErrors(page)
        answer = page.get_by_test_id("message-assistant")
        await send(page, question)
        await expect(answer).to_have_text(FIRST)
        await idle(page)
        await expect(versions_of(page, "message-assistant")).to_have_count(0)  # one version: no navigator

        # Regenerate keeps the first answer: "2/2", and "Previous version" shows the first one again.
        await page.get_by_role("button", name="Regenerate answer").click()
        await expect(answer).to_have_text(SECOND)
        await idle(page)
        answers = versions_of(page, "message-assistant")
        await expect(answers).to_contain_text("2/2")
        await answers.get_by_role("button", name="Previous version").click()
        await expect(answer).to_have_text(FIRST)
        await expect(answers).to_contain_text("1/2")
        thread = thread_id_of(page)
        assert await stored_texts(server, key, thread) == [question, FIRST]  # the server remembers the choice
        # From the keyboard: Tab to "Next version", Enter.
        await answers.get_by_role("button", name="Previous version").focus()
        await page.keyboard.press("Tab")
        await expect(answers.get_by_role("button", name="Next version")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(answer).to_have_text(SECOND)
        await expect(answers).to_contain_text("2/2")

        # Edit and resend: a branch; the question shows "2/2", and "Previous version" leads back to the old branch.
        await page.get_by_role("button", name="Edit message").click()
        box = page.get_by_label("Edit your message")
        await box.fill(edited)
        await box.press("Enter")
        await expect(answer).to_have_text(EDITED)
        await idle(page)
        questions = versions_of(page, "message-user")
        await expect(page.get_by_test_id("message-user")).to_have_text(edited)
        await expect(questions).to_contain_text("2/2")
        await expect(versions_of(page, "message-assistant")).to_have_count(0)  # the new branch's answer: alone
        assert await stored_texts(server, key, thread) == [edited, EDITED]
        await questions.get_by_role("button", name="Previous version").click()
        await expect(page.get_by_test_id("message-user")).to_have_text(question)
        await expect(answer).to_have_text(SECOND)  # the old branch, to its newest answer
        await expect(questions).to_contain_text("1/2")
        await expect(answers).to_contain_text("2/2")
        await expect(page.get_by_test_id("chat-title")).to_have_text(question)  # titled from this branch again
        await page.mouse.move(0, 0)
        await shot(page, "branches")
        assert await _axe(page) == []

        await page.reload()  # the thread opens on the branch last shown
        await expect(page.get_by_test_id("message-user")).to_have_text(question)
        await expect(versions_of(page, "message-user")).to_contain_text("1/2")
        errors.check()
        await context.close()
