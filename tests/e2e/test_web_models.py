"""The model picker in the real UI, against a real `parlor serve` with two scripted upstreams: it shows
the default and what each model can do, the model picked answers, the choice survives a reload, and a
change mid-chat sticks too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect

from tests.conftest import RunningServer
from tests.e2e.browser import PageErrors, chromium, idle, new_page, send, shot, thread_id_of
from tests.server import ParlorServer
from tests.upstream import Script, Upstream, last_user_text


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    with Upstream() as alpha, Upstream() as beta:
        yield alpha, beta


@pytest.fixture(scope="module")
def server(upstreams: tuple[Upstream, Upstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    alpha, beta = upstreams
    common = {"kind": "openai", "retries": 0, "read_timeout": 10}
    providers = [{"name": "alpha", "base_url": alpha.url, "model": "alpha-model", "label": "Alpha Vision",
                  "vision": True, "context_window": 128_000, **common},
                 {"name": "beta", "base_url": beta.url, "model": "beta-model", "label": "Beta Thinker",
                  "reasoning": True, "context_window": 32_768, **common}]
    prices = {"alpha": {"input": 2.5, "output": 10}, "beta": {"input": 0.5, "output": 1.5}}
    process = ParlorServer(tmp_path_factory.mktemp("models-web"), providers, PARLOR_PRICES=json.dumps(prices)).start()
    try:
        yield RunningServer(process, process.create_user("picker"))
    finally:
        process.stop()


def asked(upstream: Upstream, marker: str) -> bool:
    return any(marker in last_user_text(r) for r in upstream.requests)


async def hints(page: Page) -> list[str]:
    return await page.get_by_test_id("model-hints").get_by_role("listitem").all_inner_texts()


FIRST, SECOND, THIRD = "Which model are you?", "And what can you do?", "Over to you, Alpha."  # this module's own


async def test_picking_a_model_in_the_ui(server: RunningServer, upstreams: tuple[Upstream, Upstream]) -> None:
    alpha, beta = upstreams
    beta.push(Script(text="Beta here, thinking it through."), match=FIRST)
    async with chromium() as browser:
        context, page = await new_page(browser, server)
        errors = PageErrors(page)
        picker = page.get_by_label("Model", exact=True)
        await expect(picker).to_have_value("alpha")  # the default: the first of the chain
        assert await hints(page) == ["Sees images", "Tools", "128K context", "$2.5 / $10 per M tokens"]
        assert await picker.locator("option").all_inner_texts() == ["Alpha Vision", "Beta Thinker"]

        await picker.select_option("beta")
        assert await hints(page) == ["Text only", "Tools", "Reasoning", "32K context", "$0.5 / $1.5 per M tokens"]
        await send(page, FIRST)
        await expect(page.get_by_test_id("message-assistant").last).to_contain_text("Beta here")
        await idle(page)
        assert asked(beta, FIRST) and not asked(alpha, FIRST)
        await shot(page, "model-picker")

        await page.reload()  # the thread keeps its model
        await expect(page.get_by_test_id("message-assistant")).to_have_count(1)
        await expect(picker).to_have_value("beta")
        await send(page, SECOND)
        await expect(page.get_by_test_id("message-assistant")).to_have_count(2)
        await idle(page)
        assert asked(beta, SECOND) and not asked(alpha, SECOND)

        await picker.select_option("alpha")  # changed mid-chat: sticks from here on
        await send(page, THIRD)
        await expect(page.get_by_test_id("message-assistant")).to_have_count(3)
        await idle(page)
        assert asked(alpha, THIRD) and not asked(beta, THIRD)
        thread_id = thread_id_of(page)
        await page.goto(f"{server.url}/")  # a new chat starts at the default again
        await expect(picker).to_have_value("alpha")
        await page.goto(f"{server.url}/t/{thread_id}")
        await expect(page).to_have_url(re.compile(f"/t/{thread_id}$"))
        await expect(page.get_by_test_id("message-assistant")).to_have_count(3)
        await expect(picker).to_have_value("alpha")
        errors.check()
        await context.close()


async def test_the_picker_in_the_dark_theme_at_phone_width(server: RunningServer) -> None:
    async with chromium() as browser:
        context, page = await new_page(browser, server, color_scheme="dark", viewport={"width": 390, "height": 844})
        picker = page.get_by_label("Model", exact=True)
        await picker.select_option("beta")
        box = await page.get_by_test_id("model-bar").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # wraps, never overflows
        await shot(page, "model-picker-phone-dark")
        await context.close()
