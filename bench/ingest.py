"""Upload to `ready` for a 50-page PDF through a real `parlor serve` (embedded mode: the in-process
queue, the bundled embedding model, sqlite-vec), timed from the POST to the SSE event that says ready.

    .venv/bin/python bench/ingest.py [--runs 3] [--pages 50] [--density 2]

`--density` is filler paragraphs per page: 2 is ~150 words a page (the tests' PDF), 6 is ~400 words, a
dense page of prose. Each run uploads different bytes (the same bytes would be deduplicated). Also
prints where the time goes, from the server's log line, and a chat turn's time to first token measured
while a document is being ingested (the chat must not wait for the ingestion)."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import rag_corpus
from tests.client import auth
from tests.server import ParlorServer

SCRIPTED = [{"name": "scripted", "kind": "scripted", "reply": "Parlor keeps streaming while it reads your file.",
             "token_delay": 0.01}]


def until_ready(server: ParlorServer, key: str, document_id: str) -> dict[str, object]:
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=300) as client, connect_sse(
            client, "GET", f"/api/documents/{document_id}/events") as source:
        last: dict[str, object] = {}
        for event in source.iter_sse():
            if event.data == "[DONE]":
                break
            last = orjson.loads(event.data)
        return last


def first_token_ms(server: ParlorServer, key: str) -> float:
    body = {"id": uuid.uuid4().hex, "trigger": "submit-message",
            "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": "hello"}]}]}
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=60) as client, connect_sse(
            client, "POST", "/api/chat", json=body) as source:
        for event in source.iter_sse():
            if event.data != "[DONE]" and json.loads(event.data)["type"] == "text-delta":
                return (time.perf_counter() - started) * 1000
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--density", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ParlorServer(Path(folder), SCRIPTED).start()
        try:
            key = server.create_user("bench")
            print(f"idle time to first token: {first_token_ms(server, key):.0f} ms", flush=True)
            times = []
            for run in range(args.runs):
                data = rag_corpus.pdf(args.pages, seed=1000 + run, density=args.density)
                started = time.perf_counter()
                response = httpx.post(f"{server.url}/api/documents", headers=auth(key), timeout=60,
                                      files={"file": (f"bench-{run}.pdf", data)})
                accepted = (time.perf_counter() - started) * 1000
                ttfts: list[float] = []
                probe = threading.Thread(target=lambda out=ttfts: out.append(first_token_ms(server, key)))
                probe.start()
                final = until_ready(server, key, response.json()["id"])
                seconds = time.perf_counter() - started
                probe.join()
                times.append(seconds)
                print(f"run {run + 1}: {len(data) // 1024} KB, {final['pages']} pages, {final['chunks']} chunks: "
                      f"202 in {accepted:.0f} ms, ready in {seconds:.2f} s; a chat's first token meanwhile: "
                      f"{ttfts[0]:.0f} ms", flush=True)
            print(f"upload to ready: median {statistics.median(times):.2f} s, best {min(times):.2f} s "
                  f"over {args.runs} runs", flush=True)
            log = server.log.read_text()
            for line in re.findall(r"document \S+ ready: [^\"\n]*", log)[-args.runs:]:
                print("server:", line)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
