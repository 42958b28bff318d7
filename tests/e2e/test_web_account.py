"""The account page in the browser, checked against the server: who you are, a new API key shown once that
works until it is revoked there, the export downloaded as JSON holding your chat, and deleting the account,
which signs you out and leaves your key refused. Then the page at phone width in the dark theme, by keyboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.browser import PHONE, PageErrors, api, chromium, new_page, seed_thread, shot
from tests.e2e.test_browser import TIMEOUT_MS
from tests.e2e.test_web_a11y import _axe
from tests.upstream import Script


async def open_account(page: Page) -> None:
    await page.get_by_test_id("account-link").click()
    await expect(page).to_have_url(re.compile("/account$"))
    await expect(page.get_by_test_id("account-page")).to_be_visible()


async def status_with(server: Any, key: str) -> int:
    async with api(server, key) as client:
        return (await client.get("/api/me")).status_code


async def test_keys_export_and_delete(server: Any, upstream: Any, marker: str, tmp_path: Path) -> None:
    key = server.user("acct")
    upstream.push(Script(text=f"Noted, {marker}."), match=f"remember {marker}")
    thread = seed_thread(server, key, [f"remember {marker}"])
    async with api(server, key) as client:
        me = (await client.get("/api/me")).json()

    async with chromium() as browser:
        context, page = await new_page(browser, server, key, accept_downloads=True)
        errors = PageErrors(page)
        await open_account(page)
        await expect(page.get_by_test_id("account-name")).to_have_text(me["name"])
        await expect(page.get_by_test_id("account-who")).to_contain_text(me["tier"])
        rows = page.get_by_role("list", name="Active keys").get_by_test_id("key-row")
        await expect(rows).to_have_count(1)
        await expect(rows.first.get_by_test_id("current-key")).to_be_visible()

        # Create a key: shown once, with the warning; the server lists it with its expiry.
        await page.get_by_label("Name", exact=True).fill("deploy script")
        await page.get_by_label("Expires after").select_option(label="90 days")
        await page.get_by_role("button", name="Create key").click()
        notice = page.get_by_test_id("new-key")
        await expect(notice).to_contain_text("you won\u2019t see it again")
        await expect(page.locator("#new-key-title")).to_be_focused()
        new_key = await notice.get_by_label("Your new API key").input_value()
        assert new_key.startswith("pk-") and new_key != key
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("deploy script")
        await expect(rows.first).to_contain_text("Expires")
        await shot(page, "account-new-key")

        # It works as this user, until revoked from the page (after a confirmation).
        async with api(server, new_key) as client:
            assert (await client.get("/api/me")).json()["id"] == me["id"]
            assert (await client.get(f"/api/threads/{thread}")).status_code == 200
        await notice.get_by_role("button", name="I\u2019ve saved it").click()
        await expect(notice).to_have_count(0)
        await page.get_by_role("button", name="Revoke “deploy script”").click()
        dialog = page.get_by_test_id("confirm-dialog")
        await expect(dialog).to_contain_text("will stop working at once")
        await dialog.get_by_role("button", name="Revoke").click()
        await expect(rows).to_have_count(1)
        await expect(page.get_by_text("1 revoked or expired key")).to_be_visible()
        assert await status_with(server, new_key) == 401
        assert await status_with(server, key) == 200  # the browser's own key is untouched

        # Export: a JSON file holding this user's chat, with its messages.
        async with page.expect_download() as waiting:
            await page.get_by_role("button", name="Export my data").click()
        download = await waiting.value
        assert download.suggested_filename.endswith(".json")
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        exported = json.loads(saved.read_text())
        assert exported["user"]["id"] == me["id"]
        (chat,) = [t for t in exported["threads"] if t["id"] == thread]
        assert any(marker in json.dumps(m) for m in chat["messages"])
        assert new_key not in saved.read_text() and key not in saved.read_text()
        await expect(page.get_by_role("status").filter(has_text="Downloaded")).to_be_visible()

        # Delete: only once the name is typed; then signed out, the key refused, the data gone.
        await page.get_by_role("button", name="Delete my account…").click()
        confirm = dialog.get_by_role("button", name="Delete my account")
        await expect(dialog.get_by_label(re.compile("Type your account name"))).to_be_focused()
        await expect(confirm).to_be_disabled()
        await page.keyboard.type(me["name"][:-1])
        await expect(confirm).to_be_disabled()
        await page.keyboard.type(me["name"][-1])
        await confirm.click()
        await expect(page.get_by_test_id("signin-error")).to_contain_text("deleted")
        await expect(page).not_to_have_url(re.compile("/account$"))
        assert await page.evaluate("localStorage.getItem('parlor.apiKey')") is None
        assert await status_with(server, key) == 401
        errors.check()
        await context.close()


async def test_account_page_on_a_phone_in_the_dark_by_keyboard(server: Any) -> None:
    key = server.user("phone")
    async with chromium() as browser:
        # axe is injected as an inline script: this page alone runs without the CSP (test_web_csp.py checks it)
        context = await browser.new_context(viewport=PHONE, color_scheme="dark", bypass_csp=True)
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors = PageErrors(page)
        await page.add_init_script(f"localStorage.setItem('parlor.apiKey', {json.dumps(key)})")
        await page.goto(f"{server.url}/account")  # a deep link
        await expect(page.get_by_test_id("account-page")).to_be_visible()
        await expect(page.get_by_test_id("chat-title")).to_have_text("Account")
        # Nothing wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # Keyboard only: name a key, create it with Enter, copy it, dismiss it.
        await page.get_by_label("Name", exact=True).focus()
        await page.keyboard.type("phone key")
        await page.keyboard.press("Enter")
        notice = page.get_by_test_id("new-key")
        await expect(notice).to_be_visible()
        await expect(page.locator("#new-key-title")).to_be_focused()
        await page.keyboard.press("Tab")  # the key itself
        await expect(notice.get_by_label("Your new API key")).to_be_focused()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")  # Copy
        await expect(notice.get_by_role("button", name=re.compile("Copied|Copy"))).to_be_visible()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")  # I've saved it
        await expect(notice).to_have_count(0)
        # Revoke by keyboard: the dialog takes focus, Esc cancels and nothing is revoked.
        await page.get_by_role("button", name="Revoke “phone key”").focus()
        await page.keyboard.press("Enter")
        dialog = page.get_by_test_id("confirm-dialog")
        await expect(dialog.get_by_role("button", name="Revoke")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(page.get_by_role("list", name="Active keys").get_by_test_id("key-row")).to_have_count(2)
        assert await _axe(page) == []
        await shot(page, "account-phone-dark")
        errors.check()
        await context.close()
