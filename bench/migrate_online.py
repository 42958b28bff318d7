"""How long `parlor migrate` stops the fleet's queries: a throwaway database at an older schema (0006)
with N threads and a run each, readers and writers querying `threads` and `runs` the whole time (as
the previous release's replicas do during a rolling deploy), and the migration to head in the middle.
Prints the longest query before and during the migration: a migration that holds a table lock shows
as a query as long as that lock.

    python -m bench.migrate_online                      # 100k threads, PostgreSQL at PARLOR_TEST_PG or 127.0.0.1:5432
    python -m bench.migrate_online --threads 1000000

To measure an older release's migrations, put its `parlor` package first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from parlor.db import migrate
from tests import pg
from tests.migrations_kit import dsn, old_database

Query = Callable[[Any, int], Awaitable[object]]


async def read_recent(connection: Any, threads: int) -> object:
    return await connection.fetch("SELECT id, title FROM threads WHERE user_id = 'u-old' "
                                  "ORDER BY updated_at DESC, id LIMIT 20")


async def read_runs(connection: Any, threads: int) -> object:
    return await connection.fetch("SELECT id, status FROM runs WHERE user_id = 'u-old' "
                                  "ORDER BY created_at DESC LIMIT 20")


async def touch_thread(connection: Any, threads: int) -> object:
    return await connection.execute("UPDATE threads SET updated_at = now() WHERE id = md5($1::text)",
                                    str(random.randint(1, threads)))


async def add_thread_and_run(connection: Any, threads: int) -> object:
    thread = str(uuid.uuid4())
    async with connection.transaction():
        await connection.execute("INSERT INTO threads (id, user_id, created_at, updated_at, metadata) "
                                 "VALUES ($1, 'u-old', now(), now(), '{}')", thread)
        return await connection.execute(
            "INSERT INTO runs (id, request_id, user_id, thread_id, status, tokens_in, tokens_out, cost_usd, "
            "timings, detail, created_at) VALUES ($1, 'bench', 'u-old', $2, 'ok', 1, 1, 0, '{}', '{}', now())",
            str(uuid.uuid4()), thread)


QUERIES: list[Query] = [read_recent, read_runs, touch_thread, add_thread_and_run]


class Load:
    """Clients each running one kind of query in a loop, the longest of each phase kept."""

    def __init__(self, url: str, threads: int, clients: int) -> None:
        self.url, self.threads, self.clients = url, threads, clients
        self.phase = "before"
        self.longest: dict[str, tuple[float, str]] = {}
        self.count: dict[str, int] = {}
        self.running = True

    async def client(self, query: Query) -> None:
        connection = await asyncpg.connect(dsn(self.url))
        try:
            while self.running:
                phase, started = self.phase, time.perf_counter()
                await query(connection, self.threads)
                took = time.perf_counter() - started
                self.count[phase] = self.count.get(phase, 0) + 1
                if took > self.longest.get(phase, (0.0, ""))[0]:
                    self.longest[phase] = (took, query.__name__)
        finally:
            await connection.close()

    def start(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self.client(QUERIES[i % len(QUERIES)])) for i in range(self.clients)]


async def run(threads: int, clients: int, settle: float) -> None:
    async with pg.fresh_database() as url:
        started = time.perf_counter()
        await old_database(url, threads)
        print(f"{threads:,} threads and runs at 0006_security in {time.perf_counter() - started:.1f} s; "
              f"{clients} clients querying threads and runs")
        load = Load(url, threads, clients)
        tasks = load.start()
        await asyncio.sleep(settle)
        load.phase, started = "during", time.perf_counter()
        applied = await migrate(url)
        took = time.perf_counter() - started
        load.phase = "after"
        await asyncio.sleep(settle)
        load.running = False
        await asyncio.gather(*tasks)
        print(f"migrated {len(applied)} revisions to {applied[-1].split(' ')[0]} in {took:.1f} s")
        for phase in ("before", "during", "after"):
            longest, name = load.longest.get(phase, (0.0, "-"))
            print(f"  {phase:6}: {load.count.get(phase, 0):7,} queries, longest {longest * 1000:8.1f} ms ({name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of load before and after")
    args = parser.parse_args()
    asyncio.run(run(args.threads, args.clients, args.settle))


if __name__ == "__main__":
    main()
