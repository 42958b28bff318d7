"""The knowledge issue's "done when", in one browser: a 50-page PDF uploaded in one tab shows its progress
bar and becomes ready while a chat in a second tab keeps streaming; then a question about the PDF is
answered with page citations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests import rag_corpus
from tests.e2e.browser import PageErrors, chromium, idle, new_page, send
from tests.e2e.test_web_documents import READY_MS, RECORD_PROGRESS
from tests.upstream import Script, ScriptedToolCall, filler_tokens

STORY_TOKENS = 150
# Every change of the streaming answer's length, with the wall-clock time it was seen.
RECORD_GROWTH = """
window.__growth = [];
new MutationObserver(() => {
  const answers = document.querySelectorAll('[data-testid="message-assistant"]');
  if (!answers.length) return;
  const length = answers[answers.length - 1].textContent.length;
  const seen = window.__growth;
  if (!seen.length || seen[seen.length - 1][1] !== length) seen.push([Date.now(), length]);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


async def test_a_50_page_pdf_ingests_while_another_tab_streams_then_answers_with_pages(
        server: Any, upstream: Any, tmp_path: Path, marker: str) -> None:
    key = server.user("done-when")
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(rag_corpus.pdf(50, seed=50))
    upstream.push(Script(tokens=filler_tokens(STORY_TOKENS), token_delay=0.05), match=f"story {marker}")
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", json.dumps(
        {"query": "paid annual leave days", "top_k": 3}))]), match=f"leave {marker}")
    upstream.push(Script(text="Employees get the leave the manual states on the cited pages."),
                  match=f"leave {marker}")

    async with chromium() as browser:
        context, docs_tab = await new_page(browser, server, key)
        chat_tab = await context.new_page()  # same browser session, a second tab
        await chat_tab.goto(server.url)
        await expect(chat_tab.get_by_test_id("message-input")).to_be_visible()
        errors = [PageErrors(docs_tab), PageErrors(chat_tab)]
        await chat_tab.evaluate(RECORD_GROWTH)
        await docs_tab.evaluate(RECORD_PROGRESS)

        await send(chat_tab, f"Tell me a long story. story {marker}")
        await expect(chat_tab.get_by_test_id("message-assistant").last).to_contain_text("Lorem")
        uploaded_at = await docs_tab.evaluate("Date.now()")
        await docs_tab.get_by_test_id("file-input").set_input_files(pdf)
        status = docs_tab.get_by_test_id("document-card").get_by_test_id("document-status")
        await expect(status).to_contain_text("Ready — ask about it", timeout=READY_MS)
        ready_at = await docs_tab.evaluate("Date.now()")
        progress: list[int] = await docs_tab.evaluate("window.__progress")
        assert progress == sorted(progress), progress  # the bar only moved forward

        await idle(chat_tab)
        story = await chat_tab.get_by_test_id("message-assistant").last.inner_text()
        assert len(story.split()) == STORY_TOKENS  # the whole story arrived
        growth: list[list[int]] = await chat_tab.evaluate("window.__growth")
        during = [at for at, _ in growth if uploaded_at <= at <= ready_at]
        assert len(growth) >= 20, growth  # token by token, not one lump at the end
        assert during, (uploaded_at, ready_at, growth)  # it kept streaming while the PDF was parsed

        await send(docs_tab, f"How many days of paid annual leave? leave {marker}")
        await idle(docs_tab)
        chips = docs_tab.get_by_test_id("citation")
        await expect(chips.first).to_contain_text(re.compile(r"^1 manual\.pdf, p\. \d+$"))
        href = await chips.first.get_attribute("href") or ""
        assert re.fullmatch(r"/d/[\w-]+#page-([1-9]|[1-4]\d|50)", href), href
        for error in errors:
            error.check()
        await context.close()
