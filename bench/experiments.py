"""Experiments' costs: choosing a turn's arm (per call, no I/O) and the results query over N run records
(SQLite, or PostgreSQL with --database-url). Prints figures; asserts nothing.

    python bench/experiments.py --runs 100000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid

from sqlalchemy import insert

from parlor.accounts import Principal
from parlor.config import ExperimentConfig
from parlor.db import Thread, User, create_engine, migrate, new_id, session_factory, utcnow
from parlor.db.models import Feedback, RunRecord
from parlor.experiments import ExperimentBook, ExperimentResults, table

CONFIG = ExperimentConfig.model_validate({
    "name": "prompt-ab", "traffic": 0.2, "audience": ["free"],
    "variants": [{"name": "prompt-a", "system_prompt": "A"}, {"name": "prompt-b", "system_prompt": "B"}]})


def bench_arm(calls: int) -> None:
    book = ExperimentBook(store=None, refresh_seconds=5)  # type: ignore[arg-type]
    book.load([CONFIG])
    people = [Principal(str(uuid.uuid4()), "u", "free", "user") for _ in range(1000)]
    started = time.perf_counter()
    for i in range(calls):
        book.arm(people[i % 1000], None)
    print(f"arm for a new thread: {(time.perf_counter() - started) / calls * 1e6:.2f} µs per call")


async def bench_results(url: str, runs: int) -> None:
    await migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    users = [f"user-{n}" for n in range(max(1, runs // 20))]
    async with sessions.begin() as session:
        await session.execute(insert(User), [{"id": u, "name": u, "tier": "free", "role": "user"} for u in users])
        await session.execute(insert(Thread), [{"id": u, "user_id": u, "meta": {}} for u in users])
        for start in range(0, runs, 5000):
            rows, ratings = [], []
            for _ in range(min(5000, runs - start)):
                user = random.choice(users)
                request = new_id()
                rows.append({"id": new_id(), "request_id": request, "user_id": user, "thread_id": user,
                             "status": random.choice(["complete"] * 18 + ["aborted", "error"]),
                             "tokens_in": random.randint(50, 2000), "tokens_out": random.randint(10, 800),
                             "cost_usd": random.random() / 1000, "ttft_ms": random.lognormvariate(6, 0.4),
                             "timings": {}, "detail": {}, "experiment": "prompt-ab",
                             "variant": random.choice(["prompt-a", "prompt-b"]), "trigger": "submit",
                             "created_at": utcnow()})
                if random.random() < 0.1:
                    ratings.append({"message_id": new_id(), "user_id": user, "thread_id": user, "request_id": request,
                                    "rating": random.choice(["up", "up", "down"]), "created_at": utcnow(),
                                    "updated_at": utcnow()})
            await session.execute(insert(RunRecord), rows)
            if ratings:
                await session.execute(insert(Feedback), ratings)
    results = ExperimentResults(sessions)
    for attempt in range(3):
        started = time.perf_counter()
        found = await results.variants("prompt-ab", ["prompt-a", "prompt-b"])
        print(f"results over {runs} runs ({engine.dialect.name}), try {attempt + 1}: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
    print(table(found))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    bench_arm(args.calls)
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(bench_results(args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db", args.runs))


if __name__ == "__main__":
    main()
