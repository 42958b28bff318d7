"""The bundled local model in the browser: a real (0.5B) model streams a real answer, no API key, no network."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import RunningServer
from tests.e2e.browser import SCREENSHOTS, chromium, new_page
from tests.server import ParlorServer
from tests.test_local_model import MODELS_DIR, SMALL


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    providers = [{"name": "local", "kind": "local", "model": SMALL, "models_dir": str(MODELS_DIR)}]
    process = ParlorServer(tmp_path_factory.mktemp("browser-local"), providers, PARLOR_TOOLS="[]").start(timeout=120)
    try:
        yield RunningServer(process, process.create_user(f"tea-{uuid.uuid4().hex[:6]}"))
    finally:
        process.stop()


async def test_a_haiku_about_tea_streams_from_the_local_model(local: Any) -> None:
    async with chromium() as browser:
        context, page = await new_page(browser, local)
        box = page.get_by_test_id("message-input")
        await box.fill("Write a haiku about tea")
        await box.press("Enter")
        answer = page.get_by_test_id("message-assistant")
        await expect(answer).to_have_count(1, timeout=60_000)
        await expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=90_000)
        text = (await answer.text_content() or "").strip()
        assert len(text.split()) >= 5, text
        await page.screenshot(path=str(SCREENSHOTS / "local-model-haiku.png"))
        await context.close()
