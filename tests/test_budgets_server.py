"""Token budgets, cost rows and usage reports through a real server (SQLite + shared Redis)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from parlor.limits import estimate_tokens
from tests.client import auth, chat
from tests.helpers.wait import wait_for_sync
from tests.server import ParlorServer
from tests.test_limits_server import PRICES, complete, limited  # noqa: F401  (the module's server fixture)
from tests.upstream import Script, Upstream, filler_tokens


def usage(server: ParlorServer, key: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/usage", headers=auth(key), timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_exhaustion_is_refused_before_the_model_is_called(limited: ParlorServer, upstream: Upstream,  # noqa: F811
                                                          marker: str) -> None:
    key = limited.create_user(f"budget-{marker}", tier="budget")  # 400 tokens a day, replies up to 50
    first = complete(limited.url, key, f"hello {marker}", max_tokens=500)
    assert first.status_code == 200
    sent = next(r for r in upstream.requests if f"hello {marker}" in str(r["messages"]))
    assert sent["max_tokens"] == 50  # the tier caps the reply, so the reservation holds

    long = f"long {marker} " + "word " * 400  # about 500 tokens: cannot fit in what is left
    refused = complete(limited.url, key, long)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["type"]) == ("token_budget_exhausted", "rate_limit_error")
    assert int(refused.headers["retry-after"]) >= 1
    refused_chat = chat(limited.url, key, f"t-{marker}", f"chat {long}")
    assert refused_chat.status == 429 and refused_chat.body["error"]["code"] == "token_budget_exhausted"
    assert not any(f"long {marker}" in str(r["messages"]) for r in upstream.requests)  # never reached the model
    assert httpx.get(f"{limited.url}/api/threads/t-{marker}", headers=auth(key)).status_code == 404  # nothing stored


def test_settlement_replaces_the_reservation_with_the_reported_usage(limited: ParlorServer,  # noqa: F811
                                                                     marker: str) -> None:
    key = limited.create_user(f"settle-{marker}", tier="budget")
    reply = complete(limited.url, key, f"count me {marker}")
    assert reply.status_code == 200
    reported = reply.json()["usage"]
    spent = reported["prompt_tokens"] + reported["completion_tokens"]
    body = wait_for_sync(lambda: (b := usage(limited, key))["budget"]["used_today"] == spent and b)
    assert body["budget"] == {"tokens_per_day": 400, "used_today": spent, "remaining_today": 400 - spent,
                              "timezone": "UTC"}


def test_an_aborted_stream_settles_what_was_generated(limited: ParlorServer, upstream: Upstream,  # noqa: F811
                                                      marker: str) -> None:
    key = limited.create_user(f"abort-{marker}", tier="budget")
    upstream.push(Script(tokens=filler_tokens(40), token_delay=0.05), match=f"abort {marker}")
    messages = [{"role": "user", "content": f"abort {marker}"}]
    prompt = estimate_tokens(m["content"] for m in messages)
    received = 0
    with httpx.Client(timeout=30, headers=auth(key)) as client, connect_sse(
            client, "POST", f"{limited.url}/v1/chat/completions",
            json={"model": "up", "stream": True, "messages": messages}) as source:
        for event in source.iter_sse():
            if '"content"' in event.data:
                received += 1
            if received == 5:
                break  # leaving the block drops the connection mid-stream
    used = wait_for_sync(lambda: (u := usage(limited, key)["budget"]["used_today"]) < prompt + 50 and u)
    assert prompt + 5 <= used < prompt + 50  # the estimate for the prompt, plus what streamed; not the whole hold


def test_cost_rows_match_the_price_table_and_usage_is_the_callers_own(limited: ParlorServer,  # noqa: F811
                                                                      marker: str) -> None:
    keys = [limited.create_user(f"spender{i}-{marker}") for i in range(2)]  # tier "metered": no limits
    replies = [complete(limited.url, keys[0], f"a {marker}"), complete(limited.url, keys[0], f"b {marker} more words"),
               complete(limited.url, keys[1], f"c {marker}")]
    assert all(r.status_code == 200 for r in replies)
    price = PRICES["up/test-model"]

    def expect(rs: list[httpx.Response]) -> dict[str, Any]:
        tin = sum(r.json()["usage"]["prompt_tokens"] for r in rs)
        tout = sum(r.json()["usage"]["completion_tokens"] for r in rs)
        return {"requests": len(rs), "tokens_in": tin, "tokens_out": tout,
                "cost_usd": pytest.approx((tin * price["input"] + tout * price["output"]) / 1e6)}

    mine = wait_for_sync(lambda: (b := usage(limited, keys[0]))["total"]["requests"] == 2 and b)
    assert mine["total"] == expect(replies[:2])
    assert [(d["provider"], d["model"], d["requests"]) for d in mine["days"]] == [("up", "test-model", 2)]
    assert mine["days"][0]["day"] == time.strftime("%Y-%m-%d", time.gmtime())
    theirs = wait_for_sync(lambda: (b := usage(limited, keys[1]))["total"]["requests"] == 1 and b)
    assert theirs["total"] == expect(replies[2:])  # never the other user's rows

    me = [httpx.get(f"{limited.url}/api/me", headers=auth(k)).json()["id"] for k in keys]
    with sqlite3.connect(limited.data_dir / "parlor.db") as db:
        rows = db.execute("SELECT tokens_in, tokens_out, cost_usd, status, provider, model FROM usage "
                          "WHERE user_id = ?", (me[0],)).fetchall()
    assert len(rows) == 2
    for tin, tout, cost, status, provider, model in rows:
        assert (status, provider, model) == ("complete", "up", "test-model")
        assert cost == pytest.approx((tin * price["input"] + tout * price["output"]) / 1e6)

    forbidden = httpx.get(f"{limited.url}/api/admin/usage", headers=auth(keys[0]))
    assert forbidden.status_code == 403
    everyone = httpx.get(f"{limited.url}/api/admin/usage?limit=1000", headers=auth(limited.admin_token)).json()
    top = {row["user_id"]: row for row in everyone["top"]}
    assert {k: top[me[0]][k] for k in ("requests", "tokens_in", "tokens_out")} == {
        k: v for k, v in expect(replies[:2]).items() if k != "cost_usd"}
    assert top[me[1]]["requests"] == 1 and top[me[1]]["name"] == f"spender1-{marker}"
    costs = [row["cost_usd"] for row in everyone["top"]]
    assert costs == sorted(costs, reverse=True)  # top spenders first
    assert everyone["total"]["requests"] >= 3


def test_usage_needs_a_key(limited: ParlorServer) -> None:  # noqa: F811
    assert httpx.get(f"{limited.url}/api/usage").status_code == 401
    assert httpx.get(f"{limited.url}/api/usage?days=0", headers=auth(limited.create_user(
        f"days-{uuid.uuid4().hex[:6]}"))).status_code == 422
