"""Documents in the browser: a generated PDF attached to a chat shows a card whose progress bar follows the
document's events to "Ready — ask about it"; the answer's citations are numbered chips that open the document
page at the cited page; the documents list shows it and deletes it. Checked against the server each time."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests import rag_corpus
from tests.e2e.browser import PageErrors, api, chromium, idle, new_page, send, shot, thread_id_of
from tests.e2e.test_web_a11y import _axe
from tests.helpers.wait import wait_for
from tests.upstream import Script, ScriptedToolCall

# Every width of the progress bar the page showed, and whether a live region said "Ready".
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  const bar = document.querySelector('[data-testid="document-card"] [role="progressbar"]');
  if (!bar) return;
  const now = Number(bar.getAttribute('aria-valuenow'));
  const seen = window.__progress;
  if (seen[seen.length - 1] !== now) seen.push(now);
}).observe(document, { subtree: true, childList: true, attributes: true });
"""
PAGES = 12
READY_MS = 120_000  # parsing and embedding on a busy 2-core machine


async def test_upload_progress_ready_citations_and_document_page(server: Any, upstream: Any, tmp_path: Path,
                                                                 marker: str) -> None:
    key = server.user("docs")
    pdf = tmp_path / "handbook.pdf"
    pdf_bytes = rag_corpus.pdf(PAGES, seed=515)
    pdf.write_bytes(pdf_bytes)
    question = f"How many days of paid annual leave do employees get? {marker}"
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", json.dumps(
        {"query": "paid annual leave days", "top_k": 3}))]), match=marker)
    upstream.push(Script(text="Full-time employees get **27 days** of paid annual leave."), match=marker)

    async with chromium() as browser:
        context, page = await new_page(browser, server, key, bypass_csp=True)  # for axe's inline script
        errors = PageErrors(page)
        await page.evaluate(RECORD_PROGRESS)
        thread_id = thread_id_of(page)

        # Attach with the button (the drop zone is tested below with a second file).
        await page.get_by_test_id("file-input").set_input_files(pdf)
        card = page.get_by_test_id("document-card")
        await expect(card).to_be_visible()
        await expect(card.get_by_role("link", name="handbook.pdf")).to_be_visible()
        if await card.get_by_role("progressbar").is_visible():
            await shot(page, "document-progress")
        status = card.get_by_test_id("document-status")
        await expect(status).to_contain_text("Ready — ask about it", timeout=READY_MS)
        await expect(status).to_have_attribute("aria-live", "polite")
        await expect(card.get_by_role("progressbar")).to_have_count(0)
        seen: list[int] = await page.evaluate("window.__progress")
        assert seen and seen == sorted(seen), seen  # the bar only moves forward
        document_id = await card.get_attribute("data-document-id")
        assert document_id
        async with api(server, key) as client:
            stored = (await client.get(f"/api/documents/{document_id}")).json()
        assert stored["status"] == "ready" and stored["thread_id"] == thread_id and stored["pages"] == PAGES
        await shot(page, "document-ready")

        # Ask: the scripted model searches the knowledge base; the answer cites pages as numbered chips.
        await send(page, question)
        await idle(page)
        await expect(page.get_by_test_id("message-assistant").last).to_contain_text("27 days")
        chips = page.get_by_test_id("citation")
        await expect(chips.first).to_be_visible()
        count = await chips.count()
        assert 1 <= count <= 3
        await expect(chips.first).to_contain_text(re.compile(r"^1 handbook\.pdf, p\. \d+$"))
        href = await chips.first.get_attribute("href")
        match = re.fullmatch(rf"/d/{document_id}#page-(\d+)", href or "")
        assert match, href
        cited_page = int(match.group(1))
        await shot(page, "citations")
        assert await _axe(page) == []  # the card, the chips, the feedback buttons

        # The chip opens the document page, at the cited page, inside the app.
        await chips.first.click()
        await expect(page).to_have_url(re.compile(rf"/d/{document_id}#page-{cited_page}$"))
        await expect(page.get_by_test_id("document-title")).to_have_text("handbook.pdf")
        target = page.locator(f"#page-{cited_page}")
        await expect(target).to_have_class(re.compile("doc-page-target"))
        await expect(target).to_be_in_viewport()
        await expect(target.get_by_role("heading")).to_have_text(f"Page {cited_page}")
        async with api(server, key) as client:
            chunks = (await client.get(f"/api/documents/{document_id}/chunks")).json()["chunks"]
        await expect(page.get_by_test_id("document-page-section")).to_have_count(len({c["page"] for c in chunks}))
        await shot(page, "document-page")
        assert await _axe(page) == []
        async with page.expect_download() as download_info:
            await page.get_by_test_id("download-document").click()
        download = await download_info.value
        assert download.suggested_filename == "handbook.pdf"
        saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
        assert saved == pdf_bytes  # the original bytes

        # Back returns to the chat as it was; a deep link to the page works on its own too.
        await page.go_back()
        await expect(page).to_have_url(re.compile(rf"/t/{thread_id}$"))
        await expect(page.get_by_test_id("citation").first).to_be_visible()
        await page.goto(f"{server.url}/d/{document_id}#page-{cited_page}")
        await expect(page.locator(f"#page-{cited_page}")).to_be_in_viewport()

        # The chat keeps the document's card after a reload (the server stored it in the thread).
        await page.goto(f"{server.url}/t/{thread_id}")
        await expect(page.get_by_test_id("document-card")).to_have_attribute("data-status", "ready")
        errors.check()
        await context.close()


async def test_drop_a_file_and_the_documents_list(server: Any, tmp_path: Path) -> None:
    key = server.user("droplist")
    notes = rag_corpus.markdown(3, seed=41)
    async with chromium() as browser:
        context, page = await new_page(browser, server, key, bypass_csp=True)  # for axe's inline script
        errors = PageErrors(page)
        # A file dropped on the chat uploads into it (a DataTransfer built in the page, as a real drop has).
        zone = page.get_by_test_id("chat-drop-zone")
        transfer = await page.evaluate_handle(
            """(text) => { const dt = new DataTransfer();
                dt.items.add(new File([text], 'notes.md', { type: 'text/markdown' })); return dt; }""",
            notes.decode())
        await zone.dispatch_event("dragenter", {"dataTransfer": transfer})
        await expect(page.locator(".drop-overlay")).to_have_text("Drop to add to this chat")
        await zone.dispatch_event("drop", {"dataTransfer": transfer})
        await expect(page.locator(".drop-overlay")).to_have_count(0)
        card = page.get_by_test_id("document-card")
        await expect(card.get_by_test_id("document-status")).to_contain_text("Ready — ask about it", timeout=READY_MS)

        # A file the server cannot read fails with its reason, in the card.
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
        await page.get_by_test_id("file-input").set_input_files(broken)
        failed = page.locator('[data-testid="document-card"][data-status="failed"]')
        await expect(failed.get_by_test_id("document-status")).to_contain_text(re.compile(r"^Failed: \S"),
                                                                               timeout=READY_MS)

        # The documents list: both, with their status; delete asks first, then the server has it no more.
        await page.get_by_test_id("documents-link").click()
        await expect(page).to_have_url(re.compile(r"/documents$"))
        rows = page.get_by_test_id("document-row")
        await expect(rows).to_have_count(2)
        ready_row = rows.filter(has_text="notes.md")
        await expect(ready_row).to_have_attribute("data-status", "ready")
        await expect(rows.filter(has_text="broken.pdf")).to_contain_text("Failed:")
        await shot(page, "documents")
        assert await _axe(page) == []
        document_id = await ready_row.get_attribute("data-document-id")
        await ready_row.get_by_test_id("delete-document").click()
        await page.get_by_test_id("confirm-button").click()
        await expect(rows).to_have_count(1)
        async with api(server, key) as client:  # the list drops the row at once; the DELETE may still be on its way
            async def gone() -> bool:
                return (await client.get(f"/api/documents/{document_id}")).status_code == 404

            await wait_for(gone, 5, message="the deleted document is still there")
        errors.check()
        await context.close()

