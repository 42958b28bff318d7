"""The conversation in the browser: regenerate, edit and resend (which re-titles the chat), copy, Esc to stop,
Stop before the first token with its Retry, auto-scroll that lets the user scroll up, safe Markdown, a provider
failure with its retry, and a lost connection that resumes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from playwright.async_api import expect

from tests.e2e.browser import PageErrors, api, chromium, idle, new_page, send, shot, thread_id_of
from tests.upstream import Script, filler_tokens

T = TypeVar("T")
AT_ONCE_MS = 1500  # what the page shows the moment the user stops: no round trip to wait for


async def _until(check: Callable[[], Awaitable[T]], seconds: float = 10) -> T:
    """`check()`'s first truthy result, asked every 0.1 s (its last result if none came in time)."""
    for _ in range(int(seconds * 10)):
        if found := await check():
            break
        await asyncio.sleep(0.1)
    return found


async def _stored(server: Any, key: str, thread_id: str) -> list[tuple[str, str, str]]:
    async with api(server, key) as client:
        messages = (await client.get(f"/api/threads/{thread_id}")).json()["messages"]
    return [(m["role"], "".join(p.get("text", "") for p in m["parts"] if p["type"] == "text"),
             m["metadata"]["status"]) for m in messages]


async def _stored_if(server: Any, key: str, thread_id: str, status: str) -> list[tuple[str, str, str]]:
    """The stored thread once its last message has `status` (else empty)."""
    stored = await _stored(server, key, thread_id)
    return stored if stored and stored[-1][2] == status else []


async def _asked(upstream: Any, text: str) -> bool:
    return any(text in str(request) for request in upstream.requests)


async def _runs(server: Any, key: str) -> list[dict[str, Any]]:
    async with api(server, key) as client:
        runs: list[dict[str, Any]] = (await client.get("/api/runs")).json()["runs"]
    return runs


async def test_regenerate_edit_and_copy(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("regen")
    upstream.push(Script(text="First answer."), match=f"question {marker}")
    upstream.push(Script(text="Second answer, regenerated.", token_delay=0.02), match=f"question {marker}")
    upstream.push(Script(text="Answer to the edited question."), match=f"edited {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, permissions=["clipboard-read", "clipboard-write"])
        errors = PageErrors(page)
        await send(page, f"question {marker}")
        assistant = page.get_by_test_id("message-assistant")
        await expect(assistant).to_have_text("First answer.")
        await idle(page)

        # Regenerate replaces the last answer, in the page and on the server.
        await page.get_by_role("button", name="Regenerate answer").click()
        await expect(assistant).to_have_text("Second answer, regenerated.")
        await expect(assistant).to_have_count(1)
        await idle(page)
        thread = thread_id_of(page)
        assert await _stored(server, key, thread) == [("user", f"question {marker}", "complete"),
                                                     ("assistant", "Second answer, regenerated.", "complete")]

        # Copy puts the answer's text on the clipboard.
        await assistant.hover()
        await page.get_by_role("button", name="Copy answer").click()
        assert await page.evaluate("navigator.clipboard.readText()") == "Second answer, regenerated."

        # Edit and resend: the question and its answer give way to the edited one.
        await page.get_by_role("button", name="Edit message").click()
        box = page.get_by_label("Edit your message")
        await expect(box).to_be_focused()
        await box.fill(f"edited {marker}")
        await box.press("Enter")
        await expect(page.get_by_test_id("message-user")).to_have_text(f"edited {marker}")
        await expect(assistant).to_have_text("Answer to the edited question.")
        await idle(page)
        # It was the first message, and the chat was titled from it: the title follows the edit.
        await expect(page.get_by_test_id("chat-title")).to_have_text(f"edited {marker}")
        assert await _stored(server, key, thread) == [("user", f"edited {marker}", "complete"),
                                                     ("assistant", "Answer to the edited question.", "complete")]
        await page.reload()
        await expect(page.get_by_test_id("message-user")).to_have_text(f"edited {marker}")
        await expect(page.get_by_test_id("message-user")).to_have_count(1)
        errors.check()
        await context.close()


async def test_escape_stops_and_autoscroll_lets_the_user_read(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("scroll")
    lines = [f"Line {i}: some words to make this answer long enough to scroll.\n\n" for i in range(120)]
    upstream.push(Script(tokens=lines, token_delay=0.04), match=f"long {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, viewport={"width": 1000, "height": 600})
        errors = PageErrors(page)
        await send(page, f"long {marker}")
        assistant = page.get_by_test_id("message-assistant")
        await expect(assistant).to_contain_text("Line 20")
        scroller = page.get_by_test_id("message-list")
        # While following, the newest text stays in view.
        gap = await scroller.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight")
        assert gap < 80, gap

        # The user scrolls up: the view stays where they put it while the answer keeps growing.
        await scroller.hover()
        await page.mouse.wheel(0, -600)
        await expect(page.get_by_test_id("jump-to-latest")).to_be_visible()
        top = await scroller.evaluate("e => e.scrollTop")
        await expect(assistant).to_contain_text("Line 40")
        assert abs(await scroller.evaluate("e => e.scrollTop") - top) < 4
        await shot(page, "streaming-scrolled-up")

        # Jump back: following again.
        await page.get_by_test_id("jump-to-latest").click()
        await expect(page.get_by_test_id("jump-to-latest")).to_have_count(0)
        await expect(assistant).to_contain_text("Line 50")
        gap = await scroller.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight")
        assert gap < 80, gap

        # Esc stops the answer, here (at once) and on the server.
        await page.keyboard.press("Escape")
        await expect(page.get_by_test_id("message-list").get_by_text("Stopped.", exact=True)).to_be_visible(
            timeout=AT_ONCE_MS)
        await idle(page)
        thread = thread_id_of(page)
        stored = await _until(lambda: _stored_if(server, key, thread, "aborted"))
        assert stored and stored[-1][2] == "aborted", stored
        assert "Line 50" in stored[-1][1] and "Line 119" not in stored[-1][1]
        errors.check()
        await context.close()


async def test_stop_before_the_first_token_offers_retry_then_and_after_a_reload(server: Any, upstream: Any) -> None:
    key = server.user("early-stop")
    question = "Name three blue things."
    upstream.push(Script(text="Too late.", ttft=30), match=question)  # the model is slow to start
    upstream.push(Script(text="The sky, the sea, a bluebird."), match=question)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        await send(page, question)
        await expect(page.get_by_role("status").filter(has_text="Thinking…")).to_be_visible()
        assert await _until(lambda: _asked(upstream, question))  # the prompt is out
        await page.get_by_test_id("stop-button").click()
        notice = page.get_by_test_id("retry-notice")
        await expect(notice).to_have_text(re.compile("Stopped before the answer began"), timeout=AT_ONCE_MS)
        await expect(page.get_by_test_id("message-assistant")).to_have_count(0)
        await shot(page, "stopped-retry")
        thread = thread_id_of(page)
        stored = await _until(lambda: _stored_if(server, key, thread, "aborted"))
        assert stored == [("user", question, "complete"), ("assistant", "", "aborted")], stored
        runs = await _until(lambda: _runs(server, key))  # the stopped run counted the prompt it sent
        assert [(r["status"], r["tokens_in"] > 0) for r in runs] == [("aborted", True)], runs

        # A reload shows the same, and Retry makes the answer in place of the stopped one.
        await page.reload()
        await expect(notice).to_have_text(re.compile("Stopped before the answer began"))
        await page.get_by_role("button", name="Retry").click()
        await expect(page.get_by_test_id("message-assistant")).to_have_text("The sky, the sea, a bluebird.")
        await expect(notice).to_have_count(0)
        await idle(page)
        assert await _stored(server, key, thread) == [("user", question, "complete"),
                                                     ("assistant", "The sky, the sea, a bluebird.", "complete")]
        errors.check()
        await context.close()


async def test_markdown_is_rendered_safely(server: Any, upstream: Any, marker: str) -> None:
    key = server.user("md")
    hostile = ("<img src=x onerror=\"window.__pwned = 1\"> <script>window.__pwned = 2</script>\n\n"
               "[click](javascript:window.__pwned=3)\n\n```js\nconst answer = 42\n```\n")
    upstream.push(Script(text=hostile), match=f"md {marker}")
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, permissions=["clipboard-read", "clipboard-write"])
        await send(page, f"md {marker}")
        await idle(page)
        assistant = page.get_by_test_id("message-assistant")
        await expect(assistant.locator(".hljs-keyword").first).to_have_text("const")
        assert await assistant.locator("img, script").count() == 0
        await expect(assistant).to_contain_text("<script>")  # shown as text, never run
        href = await assistant.get_by_role("link", name="click").get_attribute("href")
        assert not (href or "").startswith("javascript"), href
        assert await page.evaluate("window.__pwned") is None
        await page.get_by_role("button", name="Copy code").click()
        assert await page.evaluate("navigator.clipboard.readText()") == "const answer = 42\n"
        await context.close()


async def test_provider_failure_then_retry(server: Any, upstream: Any) -> None:
    key = server.user("provider")
    # The first attempt and the router's own retry both fail: the user sees the failure.
    question = "Translate 'good morning' into Portuguese."
    for _ in range(2):
        upstream.push(Script(status=503, error_message="upstream overloaded"), match=question)
    upstream.push(Script(text="“Bom dia.”"), match=question)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page)
        await send(page, question)
        alert = page.get_by_test_id("chat-error")
        await expect(alert).to_be_visible()
        await expect(alert).to_have_attribute("data-kind", "provider")
        await expect(alert).to_contain_text("The model couldn't finish this answer.")
        await shot(page, "provider-error")
        await alert.get_by_role("button", name="Try again").click()
        await expect(page.get_by_test_id("message-assistant")).to_have_text("“Bom dia.”")
        await expect(alert).to_have_count(0)
        await idle(page)
        stored = await _stored(server, key, thread_id_of(page))
        assert stored == [("user", question, "complete"), ("assistant", "“Bom dia.”", "complete")], stored
        errors.check()
        await context.close()


async def test_lost_connection_shows_a_banner_and_resumes(server: Any, upstream: Any) -> None:
    key = server.user("offline")
    tokens = filler_tokens(80)
    question = "Write a long Latin-sounding paragraph."
    upstream.push(Script(tokens=tokens, token_delay=0.05), match=question)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key)
        errors = PageErrors(page, allowed=("ERR_INTERNET_DISCONNECTED", "network error", "Failed to fetch"))
        await send(page, question)
        assistant = page.get_by_test_id("message-assistant")
        await expect(assistant).to_contain_text("amet consectetur")
        await context.set_offline(True)
        banner = page.get_by_test_id("connection-banner")
        await expect(banner).to_be_visible()
        await shot(page, "offline")
        await asyncio.sleep(1)  # the server keeps generating meanwhile
        await context.set_offline(False)
        await expect(assistant).to_have_text("".join(tokens).strip(), timeout=30_000)
        await expect(banner).to_have_count(0)
        await expect(assistant).to_have_count(1)
        await idle(page)
        errors.check()
        await context.close()
