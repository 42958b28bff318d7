"""With PARLOR_AUTH=off the one local user is on the unlimited tier — no request window, no daily token
budget, no reply cap — through a real server, also when an older start-up had made it on the free tier."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from parlor.config import SettingsError, load_settings
from tests.cli import parlor
from tests.client import chat
from tests.server import ParlorServer

WORDS = 4200  # a reply past the free tier's 1,024-token cap; 25 of them pass its 100,000 tokens a day
BURST = 25  # requests within a minute: the free tier allows 20


def ask(url: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", timeout=60,
                      json={"model": "long", "messages": [{"role": "user", "content": "tell me everything"}]})


def test_the_local_user_has_no_limits_even_if_it_was_made_on_the_free_tier(tmp_path: Path) -> None:
    long = {"name": "long", "kind": "scripted", "model": "long", "reply": "word " * WORDS, "token_delay": 0}
    server = ParlorServer(tmp_path, [long], PARLOR_AUTH="off", PARLOR_DEFAULT_TIER="free")
    database = {"PARLOR_DATABASE_URL": server.env["PARLOR_DATABASE_URL"]}
    made = parlor("users", "create", "local", "--tier", "free", "--admin", env=database, cwd=tmp_path)
    assert made.returncode == 0, made.stderr  # the local user as earlier versions left it
    server.start()
    try:
        usage = httpx.get(f"{server.url}/api/usage", timeout=10).json()
        assert usage["tier"] == "unlimited" and usage["budget"]["tokens_per_day"] is None
        assert usage["limits"] == {"requests_per_minute": None, "requests_per_hour": None, "max_reply_tokens": None}
        for _ in range(BURST):
            answer = ask(server.url)
            assert answer.status_code == 200, answer.text
            assert answer.json()["usage"]["completion_tokens"] == WORDS
        turn = chat(server.url, None, uuid.uuid4().hex, "and in the chat?", timeout=60)
        assert turn.status == 200 and turn.done and len(turn.text.split()) == WORDS
        assert httpx.get(f"{server.url}/api/usage", timeout=10).json()["total"]["tokens_out"] == (BURST + 1) * WORDS

        server.restart()  # idempotent: the same one user, still unlimited
        assert httpx.get(f"{server.url}/api/usage", timeout=10).json()["tier"] == "unlimited"
        listing = parlor("users", "list", env=database, cwd=tmp_path).stdout.splitlines()
        assert len(listing) == 1 and "local" in listing[0] and "tier=unlimited" in listing[0], listing
    finally:
        server.stop()


def test_auth_off_keeps_the_unlimited_tier_whatever_the_tiers_list() -> None:
    only_free = {"free": {"requests_per_minute": 20}}
    assert "unlimited" in load_settings(auth="off", tiers=only_free).tiers
    assert "unlimited" not in load_settings(auth="on", tiers=only_free).tiers


def test_a_tier_named_unlimited_cannot_have_limits() -> None:
    with pytest.raises(SettingsError, match="PARLOR_TIERS: the 'unlimited' tier cannot have limits"):
        load_settings(tiers={"free": {}, "unlimited": {"max_reply_tokens": 1024}})
