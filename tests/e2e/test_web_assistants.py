"""Assistants in the browser, against the server: an admin puts A and B in a group; A makes an assistant for it in
the editor, by keyboard; B finds it in the gallery, starts a chat with it and clicks a starter, and the model is
asked with the assistant's instructions in its system prompt; C, outside the group, neither sees it nor gets it.
The gallery (dark) and the editor pass axe, the member's pages run under the CSP; screenshots of the gallery, the
editor and a new chat with the assistant for the README."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import httpx
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.e2e.browser import DESKTOP, PageErrors, api, chromium, idle, shot
from tests.e2e.test_browser import TIMEOUT_MS
from tests.e2e.test_web_a11y import _axe
from tests.upstream import Script, last_user_text


async def signed_in(browser: Browser, server: Any, key: str, path: str, viewport: ViewportSize = DESKTOP,
                    color_scheme: Literal["light", "dark"] = "light", csp: bool = True) -> tuple[BrowserContext, Page]:
    """A page signed in with `key` at `path`; `csp=False` for axe, injected as an inline script."""
    context = await browser.new_context(viewport=viewport, color_scheme=color_scheme, bypass_csp=not csp)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.add_init_script(f"localStorage.setItem('parlor.apiKey', {json.dumps(key)})")
    await page.goto(server.url + path)
    return context, page


def system_prompt(request: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in request["messages"] if m["role"] == "system")


async def test_an_assistant_made_for_a_group_is_used_by_its_members_only(server: Any, upstream: Any,
                                                                         marker: str) -> None:
    # Plain names and words (no marker): they are in the screenshots. This test alone uses them.
    (a_id, a_key), (b_id, b_key) = server.process.new_user("Ada Byron"), server.process.new_user("Bob Moses")
    c_key = server.process.create_user("Carol Shaw")
    group_name = "Maths club"
    async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                 headers={"Authorization": f"Bearer {server.admin_token}"}) as admin:
        made = await admin.post("/api/admin/groups", json={"name": group_name, "members": [a_id, b_id]})
        assert made.status_code == 201, made.text
    # Another one on the shelf, public: the gallery shows both kinds.
    async with api(server, c_key) as carol:
        public = await carol.post("/api/assistants", json={
            "name": "Travel planner", "description": "Plans trips by train: routes, times and what to see.",
            "avatar": "T", "color": "#0e7490", "visibility": "public", "starters": ["A weekend in Porto"]})
        assert public.status_code == 201, public.text
    async with api(server, b_key) as bob:
        own = await bob.post("/api/assistants", json={
            "name": "Release notes", "description": "Turns a list of merged changes into notes people want to read.",
            "avatar": "RN", "color": "#b45309"})
        assert own.status_code == 201, own.text
    instructions = "You are Euclid, a patient maths tutor: answer with one worked example, then ask a question back."
    starter = "Explain derivatives simply"

    async with chromium() as browser:
        # A: the editor, by keyboard (the name field has the focus; Tab and arrows for the rest).
        # (a tall window: the whole form in its screenshot)
        context, page = await signed_in(browser, server, a_key, "/", {"width": 1200, "height": 1560}, csp=False)
        errors = PageErrors(page)
        await page.get_by_test_id("assistants-link").click()
        await expect(page).to_have_url(re.compile("/assistants$"))
        await page.get_by_test_id("new-assistant").click()
        await expect(page.get_by_test_id("chat-title")).to_have_text("New assistant")
        await expect(page.get_by_label("Name", exact=True)).to_be_focused()
        await page.keyboard.type("Maths tutor")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Avatar", exact=True)).to_be_focused()
        await page.keyboard.type("Σ")  # (an emoji would do; the test browser has no font to show one)
        await page.get_by_label("Description", exact=True).focus()
        await page.keyboard.type("Explains calculus step by step, with worked examples and a question to check.")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Instructions", exact=True)).to_be_focused()
        await page.keyboard.type(instructions)
        await page.get_by_label("Starter 1", exact=True).focus()
        await page.keyboard.type(starter)
        await page.keyboard.press("Tab")
        await page.keyboard.type("Quiz me on limits")
        # Who can use it: the radios move with the arrows; then the group's box, ticked with Space.
        await page.get_by_role("radio", name=re.compile("^Only me")).focus()
        await page.keyboard.press("ArrowDown")
        await expect(page.get_by_role("radio", name=re.compile("^My groups"))).to_be_checked()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("checkbox", name=group_name)).to_be_focused()
        await page.keyboard.press("Space")
        await expect(page.get_by_role("checkbox", name=group_name)).to_be_checked()
        assert await _axe(page) == []
        await page.get_by_label("Name", exact=True).scroll_into_view_if_needed()
        await shot(page, "assistant-editor")
        await page.get_by_label("Name", exact=True).press("Enter")  # Enter in a field saves, as in any form
        await expect(page).to_have_url(re.compile("/assistants$"))
        card = page.get_by_test_id("assistant-card").filter(has_text="Maths tutor")
        await expect(card).to_contain_text(f"Yours · {group_name}")
        assistant_id = await card.get_attribute("data-assistant-id")
        errors.check()
        await context.close()

        async with api(server, a_key) as ada:
            saved = (await ada.get(f"/api/assistants/{assistant_id}")).json()
        assert saved["instructions"] == instructions and saved["visibility"] == "groups"
        assert [g["name"] for g in saved["groups"]] == [group_name] and saved["avatar"] == "Σ"

        # B, under the server's CSP (a style it refused would be an error in the page): the gallery shows it
        # (by A, for the group) beside the public one and B's own; a chat with it, from a starter.
        upstream.push(Script(text="A derivative is a rate of change. Example: for x², it is 2x. What is it for x³?"),
                      match=starter)
        context, page = await signed_in(browser, server, b_key, "/assistants")
        errors = PageErrors(page)
        card = page.get_by_test_id("assistant-card").filter(has_text="Maths tutor")
        await expect(card).to_contain_text(f"By Ada Byron · {group_name}")
        await expect(page.get_by_test_id("assistant-card").filter(has_text="Travel planner")).to_be_visible()
        await expect(card.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
        mine = page.get_by_test_id("assistant-card").filter(has_text="Release notes")
        await expect(mine).to_contain_text("Yours · Only you")
        await expect(mine.get_by_role("link", name="Edit Release notes")).to_be_visible()
        await shot(page, "assistants-gallery")
        await card.get_by_role("button", name="Chat with Maths tutor").focus()
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(rf"/t/[^/?]+\?assistant={assistant_id}$"))
        await expect(page.get_by_test_id("chat-assistant")).to_have_text("ΣMaths tutor")
        welcome = page.get_by_test_id("assistant-welcome")
        await expect(welcome).to_contain_text("Explains calculus step by step")
        await shot(page, "assistant-chat")
        await welcome.get_by_role("button", name=starter).click()
        await expect(page.get_by_test_id("message-assistant")).to_contain_text("What is it for x³?")
        await idle(page)
        # The thread keeps its assistant: reloaded (the address without it), the header still shows it.
        await page.goto(page.url.split("?")[0])
        await expect(page.get_by_test_id("message-assistant")).to_contain_text("What is it for x³?")
        await expect(page.get_by_test_id("chat-assistant")).to_have_text("ΣMaths tutor")
        errors.check()
        await context.close()

        # C, outside the group: not in their gallery (axe checks it, in the dark theme); a link to a chat with
        # it says it is not available.
        context, page = await signed_in(browser, server, c_key, "/assistants", color_scheme="dark", csp=False)
        await expect(page.get_by_test_id("assistant-card").filter(has_text="Travel planner")).to_be_visible()
        await expect(page.get_by_test_id("assistant-card").filter(has_text="Maths tutor")).to_have_count(0)
        assert await _axe(page) == []
        await page.goto(f"{server.url}/t/{marker}?assistant={assistant_id}")
        await expect(page.get_by_test_id("assistant-unavailable")).to_contain_text("not available to you")
        await context.close()

    asked = [r for r in upstream.requests if last_user_text(r) == starter]
    assert asked and instructions in system_prompt(asked[0]), asked

    # C through the API: not listed, and 404 when asked for it by id.
    async with api(server, c_key) as carol:
        listed = [a["name"] for a in (await carol.get("/api/assistants")).json()["assistants"]]
        assert "Maths tutor" not in listed and "Travel planner" in listed
        refused = await carol.get(f"/api/assistants/{assistant_id}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "assistant_not_found"
