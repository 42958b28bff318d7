"""Tracing's cost on time to first token: two `parlor serve` processes side by side, one with tracing
off and one exporting every span over OTLP (to a local sink that accepts and drops them), measured in
alternating bursts through the same scripted upstream, so both see the same machine load.

Run: `python bench/tracing.py` (or `--concurrency 1,10,50 --rounds 20`). `bench/ttft.py` gives the
same figures one server at a time: `PARLOR_TRACING=on PARLOR_OTLP_ENDPOINT=... python bench/ttft.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ttft import burst, parlor_body, percentile
from tests.server import ParlorServer, free_port


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


async def measure(servers: dict[str, tuple[str, str]], concurrency: list[int], rounds: int) -> None:
    for n in concurrency:
        samples: dict[str, list[float]] = {name: [] for name in servers}
        for url, key in servers.values():  # warm each server's connections and caches
            await burst(min(n, 10), f"{url}/api/chat", {"Authorization": f"Bearer {key}"}, parlor_body,
                        b'"text-delta"')
        for round_ in range(rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                url, key = servers[name]
                samples[name] += await burst(n, f"{url}/api/chat", {"Authorization": f"Bearer {key}"},
                                             parlor_body, b'"text-delta"')
        print(f"\n{n} concurrent streams x {rounds} rounds (load average now {load()})")
        for name, values in samples.items():
            ms = [v * 1000 for v in values]
            print(f"{name:<12} p50 {percentile(ms, 50):8.1f}  p99 {percentile(ms, 99):8.1f} ms  ({len(ms)} turns)")
        off, on = (sorted(v) for v in samples.values())
        print(f"{'difference':<12} p50 {(percentile(on, 50) - percentile(off, 50)) * 1000:+8.1f}  "
              f"p99 {(percentile(on, 99) - percentile(off, 99)) * 1000:+8.1f} ms")


def load() -> str:
    """The 1-minute load average over the core count: the machine may be shared, so say how busy it was."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--ttft", type=float, default=0.2)
    args = parser.parse_args()

    sink = ThreadingHTTPServer(("127.0.0.1", free_port()), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.upstream", "--port", str(port), "--ttft", str(args.ttft),
         "--tokens", "20", "--token-delay", "0.02"],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().strip().rsplit(" ", 1)[-1]
    provider = {"name": "bench", "kind": "openai", "base_url": upstream_url, "model": "bench"}
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}"
    off = ParlorServer(Path(tempfile.mkdtemp(prefix="parlor-bench-")), [provider], PARLOR_LOG_LEVEL="warning",
                       PARLOR_TRACING="off")
    on = ParlorServer(Path(tempfile.mkdtemp(prefix="parlor-bench-")), [provider], PARLOR_LOG_LEVEL="warning",
                      PARLOR_TRACING="on", PARLOR_OTLP_ENDPOINT=endpoint)
    try:
        servers = {}
        for name, server in (("tracing off", off), ("tracing on", on)):
            server.start(120)
            servers[name] = (server.url, server.create_user("bench"))
        print(f"load average at start: {load()}")
        asyncio.run(measure(servers, args.concurrency, args.rounds))
    finally:
        off.stop()
        on.stop()
        upstream.terminate()
        upstream.wait()
        sink.shutdown()


if __name__ == "__main__":
    main()
