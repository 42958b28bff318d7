"""The `parlor` command run as a real process, as a person would run it from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def parlor(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parlor", *args], env={**os.environ, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, input=stdin)
