"""A real `parlor serve` process on a free port, for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ParlorServer:
    def __init__(self, data_dir: Path, providers: list[dict[str, Any]], admin_token: str = "test-admin-token",
                 database_url: str | None = None, **env: str):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = admin_token
        self.env = {
            **os.environ,
            "PARLOR_HOST": "127.0.0.1",
            "PARLOR_PORT": str(self.port),
            "PARLOR_DATA_DIR": str(data_dir),
            "PARLOR_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{data_dir}/parlor.db",
            "PARLOR_PROVIDERS": json.dumps(providers),
            "PARLOR_ADMIN_TOKEN": admin_token,
            "PARLOR_WEB_DIR": str(ROOT / "web" / "dist"),
            "PARLOR_DEFAULT_TIER": "unlimited",  # limits are tested on purpose (tests/test_limits*.py), not by accident
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def start(self, timeout: float = 90.0) -> ParlorServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "parlor", "serve"], env=self.env, cwd=self.data_dir,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"parlor serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"parlor serve did not come up: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def restart(self) -> ParlorServer:
        self.stop()
        return self.start()

    def create_user(self, name: str, tier: str | None = None) -> str:
        return self.new_user(name, tier)[1]

    def new_user(self, name: str, tier: str | None = None) -> tuple[str, str]:
        """A new user's (id, API key)."""
        body = {"name": name, **({"tier": tier} if tier else {})}
        response = httpx.post(f"{self.url}/api/users", json=body,
                              headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10)
        response.raise_for_status()
        created = response.json()
        return str(created["id"]), str(created["api_key"])
