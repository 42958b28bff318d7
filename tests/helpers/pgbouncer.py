"""A PgBouncer of a test's own (the system's /usr/sbin/pgbouncer, run as `postgres` when the tests run as
root: it refuses to run as root) on a free port, in front of any PostgreSQL on 127.0.0.1. Small server
pools, so that many client connections share a few server connections, as in production."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.server import free_port

BINARY = "/usr/sbin/pgbouncer"
START_SECONDS = 30.0  # a ceiling: a busy machine starts it slowly


def available() -> bool:
    return Path(BINARY).exists()


class PgBouncer:
    def __init__(self, backend_port: int = 5432, pool_mode: str = "transaction", pool_size: int = 2) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="parlor-pgbouncer-"))
        self.port = free_port()
        self.backend_port = backend_port
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` through this PgBouncer, said to be a pooler (its port is not 6432)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}?pooler=pgbouncer"

    def _config(self) -> str:
        # any database, as the same user (trust: PgBouncer only needs the user listed in its auth_file)
        return f"""[databases]
* = host=127.0.0.1 port={self.backend_port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.dir}
auth_type = trust
auth_file = {self.dir}/users.txt
pool_mode = {self.pool_mode}
default_pool_size = {self.pool_size}
max_client_conn = 1000
max_db_connections = {self.pool_size}
logfile = {self.dir}/log
"""

    def __enter__(self) -> PgBouncer:
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(self._config())
        as_postgres = os.geteuid() == 0
        if as_postgres:
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self._process = subprocess.Popen([BINARY, str(self.dir / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, user="postgres" if as_postgres else None)
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not listen on {self.port}: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self.dir / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        try:
            if self._process is not None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
