"""`parlor serve --workers N`: N processes on one port, sharing PostgreSQL and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psutil

from parlor.db import migrate
from tests.conftest import upstream_provider
from tests.helpers.redis import redis_url
from tests.server import ROOT, ParlorServer
from tests.upstream import Upstream


def test_several_workers_need_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLOR_")}
    done = subprocess.run([sys.executable, "-m", "parlor", "serve", "--workers", "2"], cwd=ROOT, timeout=120,
                          env={**env, "PARLOR_DATA_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode != 0
    assert "PARLOR_REDIS_URL" in done.stderr


def turn(url: str, key: str) -> str:
    body = {"id": uuid.uuid4().hex, "trigger": "submit-message",
            "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    response = httpx.post(f"{url}/api/chat", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert response.status_code == 200
    return response.text


async def test_two_workers_serve_one_port(tmp_path: Path, pg_url: str, upstream: Upstream) -> None:
    await migrate(pg_url)
    server = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=pg_url, PARLOR_WORKERS="2",
                          PARLOR_REDIS_URL=redis_url(),
                          PARLOR_LIMITS_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}:")
    server.start(timeout=180)
    try:
        assert server.process is not None
        workers = [p for p in psutil.Process(server.process.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
        key = server.create_user("w")
        for _ in range(4):  # whichever worker takes each connection, turns stream to their end
            text = turn(server.url, key)
            assert '"type":"finish"' in text and text.rstrip().endswith("data: [DONE]")
    finally:
        assert server.stop() == 0
