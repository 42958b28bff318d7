"""The bundled local model in the browser, as a newcomer meets it: `PARLOR_AUTH=off`, every default tool
offered, three everyday prompts, and what the page shows must be an answer — never protocol markup.

CI runs the 0.5B model. `PARLOR_BROWSER_MODEL=qwen2.5-coder-1.5b` runs the default model instead and retakes
the README's first picture (docs/screenshots/local-model-default.png)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from bench.quality_checks import MARKUP
from tests.e2e.browser import SCREENSHOTS, chromium
from tests.server import ParlorServer
from tests.test_local_model import MODELS_DIR, SMALL

MODEL = os.environ.get("PARLOR_BROWSER_MODEL", SMALL)
PROMPTS = [  # (what a newcomer types, what the answer must show)
    ("Hi! Write me a two-line greeting.", None),
    ("What is 123456789 * 987654321?", "121932631112635269"),
    ("Write a Python function that reverses a string.", "def "),
]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    providers = [{"name": "local", "kind": "local", "model": MODEL, "models_dir": str(MODELS_DIR)}]
    process = ParlorServer(tmp_path_factory.mktemp("browser-local"), providers, PARLOR_AUTH="off",
                           PARLOR_DEFAULT_TIER="free").start(timeout=300)  # the newcomer's defaults, tools and all
    try:
        yield process
    finally:
        process.stop()


async def ask(page: Page, text: str, count: int) -> str:
    box = page.get_by_test_id("message-input")
    await box.fill(text)
    await box.press("Enter")
    answer = page.get_by_test_id("message-assistant").nth(count - 1)
    await expect(answer).to_be_visible(timeout=120_000)
    await expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=300_000)
    # the visible answer without its tool cards (whose arguments are shown on purpose)
    return str(await answer.evaluate(
        "el => { const c = el.cloneNode(true); c.querySelectorAll('[data-testid=tool-card]').forEach(t => t.remove());"
        " return c.innerText; }"))


async def test_everyday_prompts_get_answers_without_markup(local: Any) -> None:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        await page.goto(local.url)
        await expect(page.get_by_test_id("message-input")).to_be_visible()
        for count, (prompt, must) in enumerate(PROMPTS, start=1):
            text = await ask(page, prompt, count)
            assert text.strip(), prompt
            assert MARKUP.search(text) is None, (prompt, text)
            # what an answer says is the quality suite's to judge (with a floor): the 0.5B model sometimes
            # refuses after the calculator's result; the default model is held to the facts here too
            assert must is None or MODEL == SMALL or must in text.replace(",", ""), (prompt, text)
        name = "local-model-default.png" if MODEL != SMALL else "local-model-small.png"
        await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        await context.close()
