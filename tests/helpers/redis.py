"""Redis for tests: the shared server the suite runs against, and servers of a test's own.

The shared one is ``PARLOR_TEST_REDIS`` (like ``PARLOR_TEST_PG`` for PostgreSQL, see tests/pg.py); by default the
one scripts/services.sh starts on 127.0.0.1:6379. Tests that stop Redis or count its keys start their own
(``OwnRedis``, ``own_redis``) and never touch the shared one."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.server import free_port

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_url(port: int | None = None) -> str:
    """The shared Redis's URL (``PARLOR_TEST_REDIS``, or the local default); with ``port``, the URL of a
    test's own server on 127.0.0.1:``port``."""
    if port is not None:
        return f"redis://127.0.0.1:{port}/0"
    return os.environ.get("PARLOR_TEST_REDIS") or DEFAULT_URL


def redis_up(url: str) -> bool:
    """Whether a Redis answers PING at ``url`` (within a second)."""
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


class OwnRedis:
    """A redis-server of a test's own on a free port, to stop and start again on the same port (nothing saved;
    its files, if any, in ``directory``)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.port = free_port()
        self.url = redis_url(self.port)
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnRedis:
        where = ["--dir", str(self.directory)] if self.directory is not None else []
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", *where],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_up(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextmanager
def own_redis(directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """An ``OwnRedis`` for the block, as (process, port); the test may stop the process itself."""
    server = OwnRedis(directory).start()
    assert server.process is not None
    try:
        yield server.process, server.port
    finally:
        server.stop()
