"""The processes a load run needs: the scripted upstream, a fresh PostgreSQL database, Parlor in
distributed mode (N workers on Redis with a key prefix of its own), and a sampler of their CPU and memory."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg import admin_dsn, database_url  # noqa: E402
from tests.server import free_port  # noqa: E402


def wait_until_up(url: str, process: subprocess.Popen[Any], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up: {log.read_text()[-3000:]}")


def start_upstream(ttft: float, token_delay: float, tokens: int) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.upstream", "--port", str(port), "--ttft", str(ttft),
         "--tokens", str(tokens), "--token-delay", str(token_delay)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip().rsplit(" ", 1)[-1]


def stop(process: subprocess.Popen[Any] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Database:
    """A PostgreSQL database of the run's own, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"parlor_bench_{uuid.uuid4().hex[:12]}"
        self.url = database_url(self.name)

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn())
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def create(self) -> Database:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        return self

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@dataclass
class Parlor:
    database_url: str
    upstream_url: str
    workers: int = 2
    redis_url: str = "redis://127.0.0.1:6379/0"
    extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}:")
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="parlor-load-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        provider = {"name": "bench", "kind": "openai", "base_url": self.upstream_url, "model": "bench",
                    "max_connections": 10_000}
        return {**os.environ, "PARLOR_HOST": "127.0.0.1", "PARLOR_PORT": str(self.port),
                "PARLOR_DATA_DIR": str(self.data_dir), "PARLOR_DATABASE_URL": self.database_url,
                "PARLOR_REDIS_URL": self.redis_url, "PARLOR_LIMITS_KEY_PREFIX": self.prefix,
                "PARLOR_JOBS_QUEUE": f"{self.prefix}jobs", "PARLOR_PROVIDERS": json.dumps([provider]),
                "PARLOR_DEFAULT_TIER": "pro", "PARLOR_LOG_LEVEL": "warning", "PARLOR_VECTOR_STORE": "sqlite",
                "PARLOR_WEB_DIR": str(ROOT / "web" / "dist"), **self.extra}

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "parlor", "migrate"], env=self.env(), cwd=self.data_dir, check=True,
                       capture_output=True)

    def start(self) -> Parlor:
        log = self.data_dir / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "parlor", "serve", "--workers", str(self.workers)],
                                            env=self.env(), cwd=self.data_dir, stdout=out, stderr=subprocess.STDOUT)
        wait_until_up(f"{self.url}/healthz", self.process, log)
        return self

    def stop(self) -> None:
        stop(self.process)


class Sampler:
    """CPU seconds and peak resident memory of process trees, sampled twice a second in a thread."""

    def __init__(self, roots: dict[str, int]):
        self._roots = roots
        self._cpu: dict[str, dict[int, float]] = {name: {} for name in roots}
        self.peak_rss: dict[str, int] = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0
        self.machine_cpu = 0.0

    def _tree(self, pid: int) -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        for name, pid in self._roots.items():
            rss = 0
            for process in self._tree(pid):
                try:
                    times = process.cpu_times()
                    self._cpu[name][process.pid] = times.user + times.system
                    rss += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss[name] = max(self.peak_rss[name], rss)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> Sampler:
        self._sample()
        self._base = {name: dict(cpu) for name, cpu in self._cpu.items()}
        psutil.cpu_percent()
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.machine_cpu = psutil.cpu_percent() / 100 * (psutil.cpu_count() or 1)
        self.elapsed = time.monotonic() - self._started

    def cores(self, name: str) -> float:
        """Average cores the tree used over the sampled time."""
        base = self._base[name]
        used = sum(seconds - base.get(pid, 0.0) for pid, seconds in self._cpu[name].items())
        return used / self.elapsed if self.elapsed else 0.0
