"""What catching a dead pooled PostgreSQL connection costs per checkout: none (the bare pool), Parlor's
check (the driver's own closed flag on every checkout, a ping only after 10 s idle), and SQLAlchemy's
`pool_pre_ping` (BEGIN, `;`, ROLLBACK on every checkout). Each timed step is one checkout and one
`SELECT 1`, sequential and with 16 in flight, in a throwaway database.

    python -m bench.db_checkout                          # PostgreSQL at PARLOR_TEST_PG or 127.0.0.1:5432
    python -m bench.db_checkout --requests 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.limiter import measure, percentile
from parlor.db import create_engine
from tests import pg


def engines(url: str) -> dict[str, AsyncEngine]:
    return {"bare pool": create_async_engine(url, pool_size=16, max_overflow=0),
            "parlor (closed flag)": create_engine(url, pool_size=16, max_overflow=0),
            "pool_pre_ping": create_async_engine(url, pool_size=16, max_overflow=0, pool_pre_ping=True)}


async def run(url: str, requests: int) -> None:
    for name, engine in engines(url).items():
        async def step(_i: int, engine: AsyncEngine = engine) -> None:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        try:
            await measure(step, 500, 16)  # warm up: the pool's connections opened
            for concurrency in (1, 16):
                samples = await measure(step, requests, concurrency)
                print(f"{name:<22} concurrency {concurrency:>2}: p50 {percentile(samples, 50):7.1f} µs   "
                      f"p99 {percentile(samples, 99):7.1f} µs   mean {statistics.fmean(samples):7.1f} µs")
        finally:
            await engine.dispose()


async def main_async(requests: int) -> None:
    async with pg.fresh_database() as url:
        await run(url, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(main_async(parser.parse_args().requests))


if __name__ == "__main__":
    main()
