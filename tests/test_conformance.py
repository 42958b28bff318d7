"""The UI message stream, consumed by the AI SDK's own transport and parser (shared conformance checker)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.server import ROOT

CHECKER = ROOT.parent / "shared" / "conformance" / "check-ui-stream.mjs"
NODE_MODULES = ROOT / "web" / "node_modules"


@pytest.fixture(scope="module")
def checker() -> Path:
    assert CHECKER.is_file(), f"the shared conformance checker is missing: {CHECKER}"
    assert (NODE_MODULES / "ai").is_dir(), "web/node_modules has no `ai`: run `npm --prefix web ci`"
    # ES modules resolve packages from the script's own folder upwards, so run a copy beside web/node_modules.
    target = NODE_MODULES / ".parlor-conformance" / CHECKER.name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(CHECKER, target)
    return target


def run_checker(checker: Path, server: RunningServer, thread_id: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(checker), f"{server.url}/api/chat", server.api_key, thread_id, text],
                          capture_output=True, text=True, timeout=60)


def test_the_ai_sdk_assembles_our_stream(checker: Path, server: RunningServer, marker: str) -> None:
    thread_id = uuid.uuid4().hex
    result = run_checker(checker, server, thread_id, f"conform {marker}")
    assert result.returncode == 0, result.stderr
    message = json.loads(result.stdout.splitlines()[0])
    assert message["role"] == "assistant"
    assert result.stdout.splitlines()[-1] == f"TEXT: You said: conform {marker}"
    assert message["metadata"]["provider"] == "up" and message["metadata"]["threadId"] == thread_id

    follow_up = run_checker(checker, server, thread_id, f"and again {marker}")
    assert follow_up.returncode == 0, follow_up.stderr
