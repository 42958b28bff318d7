"""Results on a seeded dataset with known answers, on SQLite and PostgreSQL: per variant, users, turns,
thumbs-up rate with its Wilson interval, stop, regenerate and error rates, TTFT percentiles (PostgreSQL's
percentile_cont and the portable window-function version agree), tokens and cost per turn; and
`parlor experiments report` prints the same."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.config import ExperimentConfig
from parlor.db import Thread, User, create_engine, migrate, new_id, session_factory, utcnow
from parlor.db.models import Feedback, RunRecord
from parlor.experiments import ExperimentResults, ExperimentStore, VariantResult, wilson


def run(user: str, variant: str | None, ttft: float | None, i: int, status: str = "complete",
        trigger: str = "submit", experiment: str | None = "exp") -> dict[str, Any]:
    return {"id": new_id(), "request_id": f"req-{new_id()}", "user_id": user, "thread_id": f"t-{user}",
            "status": status, "tokens_in": 10 * i, "tokens_out": 5 * i, "cost_usd": 0.001 * i, "ttft_ms": ttft,
            "timings": {}, "detail": {}, "experiment": experiment, "variant": variant, "trigger": trigger,
            "created_at": utcnow()}


async def seed(engine: AsyncEngine) -> None:
    users = [f"u{n}" for n in range(1, 6)]
    a = [run(users[i % 3], "a", 100.0 * (i + 1), i + 1,
             status="aborted" if i in (0, 1) else "error" if i == 2 else "complete",
             trigger="regenerate" if i in (3, 4, 5) else "submit") for i in range(10)]
    b = [run("u4", "b", None, 1), run("u4", "b", 300.0, 2), run("u4", "b", 100.0, 3)]
    elsewhere = [run("u5", "a", 5.0, 50, experiment="other"), run("u5", None, 5.0, 50, experiment=None)]
    ratings = [(a[i], "up") for i in (0, 3, 4, 7)] + [(a[9], "down"), (a[8], None), (elsewhere[0], "down")]
    now = utcnow()
    async with session_factory(engine).begin() as session:
        await session.execute(insert(User), [{"id": u, "name": u, "tier": "free", "role": "user"} for u in users])
        await session.execute(insert(Thread), [{"id": f"t-{u}", "user_id": u, "meta": {}} for u in users])
        await session.execute(insert(RunRecord), [*a, *b, *elsewhere])
        await session.execute(insert(Feedback), [
            {"message_id": new_id(), "user_id": r["user_id"], "thread_id": r["thread_id"],
             "request_id": r["request_id"], "rating": rating, "comment": "meh" if rating is None else None,
             "created_at": now, "updated_at": now} for r, rating in ratings])
        config = ExperimentConfig.model_validate({"name": "exp", "variants": [{"name": "a"}, {"name": "b"},
                                                                              {"name": "c"}]})
    await ExperimentStore(session_factory(engine)).put(config)


def check_known_answers(results: list[VariantResult]) -> None:
    a, b, c = results
    assert [r.variant for r in results] == ["a", "b", "c"]
    assert (a.users, a.turns, a.rated, a.thumbs_up) == (3, 10, 5, 4)
    assert a.thumbs_up_rate == pytest.approx(0.8)
    assert a.thumbs_up_ci95 == pytest.approx((0.3755, 0.9638), abs=1e-4)  # the textbook Wilson interval of 4/5
    assert (a.stop_rate, a.regenerate_rate, a.error_rate) == pytest.approx((0.2, 0.3, 0.1))
    assert (a.ttft_p50_ms, a.ttft_p95_ms) == pytest.approx((550.0, 955.0))  # 100..1000: linear interpolation
    assert (a.tokens_in_per_turn, a.tokens_out_per_turn, a.cost_per_turn_usd) == pytest.approx((55, 27.5, 0.0055))
    assert (b.users, b.turns, b.rated, b.thumbs_up_rate, b.thumbs_up_ci95) == (1, 3, 0, None, None)
    assert (b.ttft_p50_ms, b.ttft_p95_ms) == pytest.approx((200.0, 290.0))  # the turn without a TTFT left out
    assert b.stop_rate == 0 and b.tokens_in_per_turn == pytest.approx(20)
    assert (c.users, c.turns, c.ttft_p50_ms, c.stop_rate) == (0, 0, None, None)


def test_wilson_interval() -> None:
    assert wilson(0, 0) is None
    low, high = wilson(0, 10) or (1, 0)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(50, 100) or (0, 0)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)


async def test_results_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/results.db"
    await migrate(url)
    engine = create_engine(url)
    try:
        await seed(engine)
        results = ExperimentResults(session_factory(engine))
        check_known_answers(await results.variants("exp", ["a", "b", "c"]))
        assert [r.turns for r in await results.variants("exp", since=utcnow() + timedelta(minutes=1))] == []
    finally:
        await engine.dispose()


def test_the_report_command_prints_the_same(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/report.db"

    async def prepare() -> None:
        await migrate(url)
        engine = create_engine(url)
        try:
            await seed(engine)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    env = {**os.environ, "PARLOR_DATABASE_URL": url, "PARLOR_DATA_DIR": str(tmp_path)}
    table = subprocess.run([sys.executable, "-m", "parlor", "experiments", "report", "exp"], env=env,
                           capture_output=True, text=True, check=True).stdout
    rows = {line.split()[0]: line for line in table.splitlines()[3:]}
    assert set(rows) == {"a", "b", "c"}
    assert "80% [38%-96%] n=5" in rows["a"] and "20.0%" in rows["a"] and "550 ms" in rows["a"]
    assert "955 ms" in rows["a"] and "$0.00550" in rows["a"]
    report = subprocess.run([sys.executable, "-m", "parlor", "experiments", "report", "exp", "--json"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert json.loads(report)["variants"][0]["ttft_p95_ms"] == pytest.approx(955.0)
    missing = subprocess.run([sys.executable, "-m", "parlor", "experiments", "report", "nope"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "no experiment 'nope'" in missing.stderr


async def test_results_on_postgresql(pg_url: str) -> None:
    await migrate(pg_url)
    engine = create_engine(pg_url)
    try:
        await seed(engine)
        results = ExperimentResults(session_factory(engine))
        native = await results.variants("exp", ["a", "b", "c"])
        check_known_answers(native)
        assert await results.variants("exp", ["a", "b", "c"], native_percentiles=False) == native
    finally:
        await engine.dispose()
