"""What the bundled model says, judged in CI: the answer-quality suite (bench/quality.py) on the 0.5B model.

Fewer cases passing than the floor, or any answer showing protocol markup (caught by the server's filter or
not), fails the suite. The floor comes from measurement (README, "Answer quality"): raise it as answers
improve, never lower it to make a change pass."""

from __future__ import annotations

import subprocess
import sys

from tests.server import ROOT
from tests.test_local_model import SMALL

FLOOR = 0.74


def test_the_small_model_answers_the_shipped_prompts_well_enough() -> None:
    run = subprocess.run([sys.executable, "bench/quality.py", "--model", SMALL, "--floor", str(FLOOR),
                          "--max-leaks", "0"], cwd=ROOT, capture_output=True, text=True, timeout=2400)
    print(run.stdout)  # the table and every failure verbatim, in pytest's output (-rP, or on failure)
    assert run.returncode == 0, f"{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
