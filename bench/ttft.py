"""Time to first token through Parlor vs straight from the upstream, at several concurrencies.

Starts the scripted upstream as its own process and a real `parlor serve`, then for each
concurrency fires that many simultaneous streams at the upstream directly and through Parlor's
`POST /api/chat` (auth, history read, storage and all), and prints p50/p95/p99 of each and the
difference: Parlor's overhead. Run: `python bench/ttft.py` (or `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server import ParlorServer, free_port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def first_token(client: httpx.AsyncClient, url: str, body: dict[str, object], marker: bytes) -> float:
    """Seconds from sending the request to the first line carrying `marker`; reads the stream to its end."""
    started = time.perf_counter()
    ttft = None
    async with client.stream("POST", url, content=orjson.dumps(body),
                             headers={"Content-Type": "application/json"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if ttft is None and marker in line.encode():
                ttft = time.perf_counter() - started
    if ttft is None:
        raise RuntimeError(f"no token arrived from {url}")
    return ttft


CLIENT_CONNECTIONS = 25  # httpx's pool costs CPU per open connection: many small clients stay cheap


async def burst(n: int, url: str, headers: dict[str, str], make_body: object, marker: bytes) -> list[float]:
    limits = httpx.Limits(max_connections=CLIENT_CONNECTIONS, max_keepalive_connections=CLIENT_CONNECTIONS)
    clients = [httpx.AsyncClient(headers=headers, limits=limits, timeout=120)
               for _ in range(-(-n // CLIENT_CONNECTIONS))]
    try:
        bodies = [make_body() for _ in range(n)]  # type: ignore[operator]
        return list(await asyncio.gather(*(
            first_token(clients[i // CLIENT_CONNECTIONS], url, body, marker) for i, body in enumerate(bodies)
        )))
    finally:
        for client in clients:
            await client.aclose()


def upstream_body() -> dict[str, object]:
    return {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hello"}]}


def parlor_body() -> dict[str, object]:
    message = {"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": "hello"}]}
    return {"id": uuid.uuid4().hex, "messages": [message], "trigger": "submit-message"}


def row(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"{label:<10} p50 {percentile(ms, 50):8.1f}  p95 {percentile(ms, 95):8.1f}  "
            f"p99 {percentile(ms, 99):8.1f}  mean {statistics.fmean(ms):8.1f} ms")


async def run(args: argparse.Namespace, parlor_url: str, key: str, upstream_url: str) -> None:
    print(f"upstream: time to first token {args.ttft * 1000:.0f} ms, {args.tokens} tokens "
          f"{args.token_delay * 1000:.0f} ms apart; database {args.database}")
    for n in args.concurrency:
        await burst(min(n, 10), f"{parlor_url}/api/chat", {"Authorization": f"Bearer {key}"}, parlor_body,
                    b'"text-delta"')  # warm connections and caches
        direct = await burst(n, f"{upstream_url}/chat/completions", {}, upstream_body, b'"content"')
        through = await burst(n, f"{parlor_url}/api/chat", {"Authorization": f"Bearer {key}"}, parlor_body,
                              b'"text-delta"')
        print(f"\n{n} concurrent streams")
        print(row("upstream", direct))
        print(row("parlor", through))
        overhead = [percentile(through, q) - percentile(direct, q) for q in (50, 95, 99)]
        print(f"{'overhead':<10} p50 {overhead[0] * 1000:8.1f}  p95 {overhead[1] * 1000:8.1f}  "
              f"p99 {overhead[2] * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 50, 500])
    parser.add_argument("--ttft", type=float, default=0.2, help="the upstream's own time to first token (s)")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgresql+asyncpg:// URL")
    args = parser.parse_args()

    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.upstream", "--port", str(port), "--ttft", str(args.ttft),
         "--tokens", str(args.tokens), "--token-delay", str(args.token_delay)],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().strip().rsplit(" ", 1)[-1]
    provider = {"name": "bench", "kind": "openai", "base_url": upstream_url, "model": "bench"}
    database = None if args.database == "sqlite" else args.database
    server = ParlorServer(Path(tempfile.mkdtemp(prefix="parlor-bench-")), [provider], database_url=database,
                          PARLOR_LOG_LEVEL="warning")
    try:
        server.start()
        key = server.create_user("bench")
        asyncio.run(run(args, server.url, key, upstream_url))
    finally:
        server.stop()
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
