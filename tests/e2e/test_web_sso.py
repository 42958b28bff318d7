"""Single sign-on in the browser: a real `parlor serve` configured for the local test issuer
(tests/oidc_issuer.py). The sign-in screen offers "Sign in with SSO" only when the server has it; the button
goes through the issuer and back, the key from the URL fragment is kept and taken out of the address, and
the person is signed in (their key listed on the account page as this browser's)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import expect

from tests import test_oidc
from tests.conftest import RunningServer
from tests.e2e.browser import PageErrors, api, chromium, shot
from tests.e2e.test_browser import TIMEOUT_MS
from tests.e2e.test_web_a11y import _axe
from tests.oidc_issuer import OidcIssuer, Person

issuer, sso = test_oidc.issuer, test_oidc.sso  # the same fixtures: the issuer and a server configured for it


async def get(server: Any, path: str, key: str = "") -> Any:
    async with api(server, key or "none") as client:
        return (await client.get(path)).json()


async def test_sign_in_with_sso(sso: RunningServer, issuer: OidcIssuer) -> None:
    issuer.person = Person(f"sub-{uuid.uuid4().hex[:8]}", "grace@example.com", f"grace-{uuid.uuid4().hex[:6]}")
    assert await get(sso, "/api/auth/config") == {"auth": True, "oidc": True}
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1200, "height": 780})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors = PageErrors(page)
        await page.goto(sso.url)
        button = page.get_by_role("link", name="Sign in with SSO")
        await expect(button).to_be_visible()
        await expect(page.get_by_label("API key")).to_be_visible()  # keys still work beside it
        await shot(page, "sign-in-sso")
        async with await browser.new_context(bypass_csp=True, color_scheme="dark") as plain:  # axe runs inline
            dark = await plain.new_page()
            await dark.goto(sso.url)
            await expect(dark.get_by_role("link", name="Sign in with SSO")).to_be_visible()
            assert await _axe(dark) == []

        # Through the issuer and back: signed in, the key kept, the fragment gone from the address.
        await button.click()
        await expect(page.get_by_test_id("message-input")).to_be_visible()
        await expect(page.get_by_test_id("current-user")).to_have_text(issuer.person.username)
        assert "parlor-key" not in page.url and await page.evaluate("location.hash") == ""
        key = await page.evaluate("localStorage.getItem('parlor.apiKey')")
        assert key and key.startswith("pk-")
        me = await get(sso, "/api/me", key)
        assert me["name"] == issuer.person.username

        # The account page lists that key as this browser's, expiring as configured.
        await page.get_by_test_id("account-link").click()
        row = page.get_by_role("list", name="Active keys").get_by_test_id("key-row")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("single sign-on")
        await expect(row.get_by_test_id("current-key")).to_be_visible()
        await expect(row).to_contain_text("Expires")

        # Sign out, and in again: the same person, a new key; the old one still theirs until it expires.
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("link", name="Sign in with SSO").click()
        await expect(page.get_by_test_id("current-user")).to_have_text(issuer.person.username)
        again = await page.evaluate("localStorage.getItem('parlor.apiKey')")
        assert again != key
        assert (await get(sso, "/api/me", again))["id"] == me["id"]
        errors.check()
        await context.close()


async def test_a_failed_sso_lands_on_the_sign_in_screen(sso: RunningServer, issuer: OidcIssuer) -> None:
    issuer.person = Person(f"sub-{uuid.uuid4().hex[:8]}", "alan@example.com", f"alan-{uuid.uuid4().hex[:6]}")
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors = PageErrors(page)
        await page.goto(sso.url)
        issuer.forge = {"aud": "someone-else"}  # the next ID token is not for Parlor
        await page.get_by_role("link", name="Sign in with SSO").click()
        alert = page.get_by_test_id("signin-error")
        await expect(alert).to_have_text(re.compile("could not be verified"))
        assert "oidc_" not in await alert.inner_text()  # words, not the code
        assert await page.evaluate("location.hash") == "" and page.url.rstrip("/") == sso.url
        assert await page.evaluate("localStorage.getItem('parlor.apiKey')") is None

        # The SSO button is right there: trying again (the issuer back to normal) signs the person in.
        await page.get_by_role("link", name="Sign in with SSO").click()
        await expect(page.get_by_test_id("current-user")).to_have_text(issuer.person.username)
        errors.check()
        await context.close()


async def test_no_sso_button_without_an_issuer(server: Any) -> None:
    assert await get(server, "/api/auth/config") == {"auth": True, "oidc": False}
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(server.url)
        await expect(page.get_by_label("API key")).to_be_focused()
        await expect(page.get_by_role("link", name=re.compile("SSO"))).to_have_count(0)
        await context.close()
