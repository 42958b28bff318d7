"""A throwaway PostgreSQL cluster of the test's own (the system's binaries, run as `postgres`), so a
test may stop and restart its database without touching the shared one."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.server import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return found[-1]


class PgCluster:
    def __init__(self, options: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="parlor-pg-"))
        self.port = free_port()
        self.options = options  # more `-c name=value` for the server (e.g. ssl=on: tests/test_db_tls.py)
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str, check: bool = True) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=check, capture_output=True, timeout=60)

    def __enter__(self) -> PgCluster:
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self._as_postgres(_bin("initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off {self.options}"
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-o", options, "-w", "-l",
                          str(self.dir / "log"), "start")

    def stop(self, check: bool = True) -> None:
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop", check=check)

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        try:
            self.stop(check=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
