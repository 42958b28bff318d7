"""Peers run against the same upstream as Parlor: the design brief's minimal relay, and LiteLLM's proxy
(installed from PyPI into its own virtual environment under `.bench-venvs/`, configured as a plain
pass-through). `start_peer(name, upstream_url, workers)` starts one and returns its process and URL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.stack import ROOT, stop, wait_until_up
from tests.server import free_port

VENVS = ROOT / ".bench-venvs"
LITELLM = "litellm[proxy]"


LITELLM_KEY = f"sk-bench-{secrets.token_hex(16)}"  # LiteLLM refuses to start without a master key


def start_peer(name: str, upstream_url: str, workers: int) -> tuple[subprocess.Popen[Any], str, str | None]:
    """The peer's process, URL, and the API key it wants (None: no auth)."""
    if name == "relay":
        return (*_relay(upstream_url, workers), None)
    if name == "litellm":
        return (*_litellm(upstream_url, workers), LITELLM_KEY)
    raise SystemExit(f"unknown peer {name!r}: relay or litellm")


def _start(command: list[str], env: dict[str, str], health: str, log: Path) -> subprocess.Popen[Any]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(health, process, log, timeout=180)
    except RuntimeError:
        stop(process)
        raise
    return process


def _relay(upstream_url: str, workers: int) -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.peers.relay:app", "--port", str(port), "--workers",
               str(workers), "--log-level", "warning", "--backlog", "4096"]
    process = _start(command, {"RELAY_UPSTREAM": upstream_url}, f"http://127.0.0.1:{port}/healthz",
                     VENVS / "relay.log")
    return process, f"http://127.0.0.1:{port}"


def litellm_venv() -> Path:
    """LiteLLM's proxy in a virtual environment of its own (installed on first use)."""
    venv = VENVS / "litellm"
    if not (venv / "bin" / "litellm").exists():
        VENVS.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", LITELLM], check=True)
    return venv


def _litellm(upstream_url: str, workers: int) -> tuple[subprocess.Popen[Any], str]:
    venv, port = litellm_venv(), free_port()
    config = VENVS / "litellm.yaml"
    config.write_text(  # a plain pass-through: one model, no database, no logging callbacks
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        f"      api_base: {upstream_url}\n"
        "      api_key: none\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n")
    command = [str(venv / "bin" / "litellm"), "--config", str(config), "--port", str(port), "--host", "127.0.0.1",
               "--num_workers", str(workers), "--timeout_worker_healthcheck", "60"]  # its import is slow
    env = {"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_ADMIN_UI": "True",
           "LITELLM_MASTER_KEY": LITELLM_KEY}
    process = _start(command, env, f"http://127.0.0.1:{port}/health/liveliness", VENVS / "litellm.log")
    return process, f"http://127.0.0.1:{port}"
