"""The cross-talk probe: one process of several, each running many concurrent queries through Parlor's
own engine whose answer only its caller can expect (the caller's value and a tag in the statement's
text, so a statement name that means another client's statement on a shared server connection shows).
Prints one JSON line: {"total", "wrong", "errors", "error_kinds"}.

    python -m tests.helpers.crosstalk URL TAG [TASKS] [QUERIES]"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.db import create_engine


async def _task(engine: AsyncEngine, tag: str, queries: int, tally: Counter[str]) -> None:
    statement = text(f"SELECT CAST(:v AS text) || '-{tag}'")
    for n in range(queries):
        value = f"{tag}.{n}"
        try:
            async with engine.connect() as connection:
                got = (await connection.execute(statement, {"v": value})).scalar_one()
        except Exception as exc:  # counted, by kind: the probe reports, the test judges
            tally["errors"] += 1
            tally[f"error:{type(exc).__name__}"] += 1
            continue
        tally["total"] += 1
        tally["wrong"] += got != f"{value}-{tag}"


async def probe(url: str, tag: str, tasks: int, queries: int) -> dict[str, object]:
    engine = create_engine(url, pool_size=tasks, max_overflow=0)
    tally: Counter[str] = Counter()
    try:
        await asyncio.gather(*(_task(engine, f"{tag}t{i}", queries, tally) for i in range(tasks)))
    finally:
        await engine.dispose()
    kinds = {k.removeprefix("error:"): v for k, v in tally.items() if k.startswith("error:")}
    return {"total": tally["total"], "wrong": tally["wrong"], "errors": tally["errors"], "error_kinds": kinds}


def main() -> None:
    url, tag = sys.argv[1], sys.argv[2]
    tasks = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    queries = int(sys.argv[4]) if len(sys.argv) > 4 else 90
    print(json.dumps(asyncio.run(probe(url, tag, tasks, queries))))


if __name__ == "__main__":
    main()
