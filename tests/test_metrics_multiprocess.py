"""Several worker processes, one /metrics: with PROMETHEUS_MULTIPROC_DIR set, each process's counts land
in files there and any process's scrape sums them (prometheus_client's multi-process mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import asyncio
from parlor.observability.metrics import Metrics
from parlor.observability.probe import ModelCall
metrics = Metrics(lambda provider, model, usage: 0.001)
metrics.request("/api/chat", "POST", 200, 0.5)
metrics.model_call(ModelCall("up", "m", "openai", ttft_ms=300.0, duration_ms=900.0, tokens_in=10, tokens_out=25))
metrics.streams.inc()
"""

SCRAPE = """
import asyncio, sys
from parlor.observability.metrics import Metrics
sys.stdout.write(asyncio.run(Metrics().render()).decode())
"""


def run(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_scrape_sums_every_worker_process(tmp_path: Path) -> None:
    for _ in range(2):
        run(WORKER, tmp_path)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(run(SCRAPE, tmp_path)) for s in family.samples}
    chat = (("method", "POST"), ("route", "/api/chat"), ("status", "200"))
    assert samples[("parlor_http_requests_total", chat)] == 2
    assert samples[("parlor_llm_time_to_first_token_seconds_count", (("model", "m"), ("provider", "up")))] == 2
    assert samples[("parlor_llm_tokens_total", (("direction", "output"), ("model", "m"), ("provider", "up")))] == 50
    assert samples[("parlor_llm_cost_usd_total", (("model", "m"), ("provider", "up")))] > 0
