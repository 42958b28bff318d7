"""Drives the AI SDK's own transport and stream parser (`tests/sdk_chat.mjs`) against a server.

The script runs from a copy beside `web/node_modules`: ES modules resolve packages from their own folder
upwards, and the web UI already depends on `ai`, so the SDK a test runs is the one the UI ships."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("sdk_chat.mjs")
VALIDATE = Path(__file__).with_name("sdk_validate.mjs")
NODE_MODULES = Path(__file__).resolve().parent.parent / "web" / "node_modules"


def install(script: Path = SCRIPT) -> Path:
    """The script's copy beside web/node_modules (made each session, so an edit is never stale)."""
    assert (NODE_MODULES / "ai").is_dir(), "web/node_modules has no `ai`: run `npm --prefix web ci`"
    target = NODE_MODULES / ".parlor-conformance" / script.name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(script, target)
    return target


def validate(messages: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """The SDK's validateUIMessages on stored messages (what useChat is given when a thread reopens)."""
    return subprocess.run(["node", str(install(VALIDATE))], input=json.dumps(messages), capture_output=True,
                          text=True, timeout=60)


@dataclass(frozen=True)
class SdkAnswer:
    process: subprocess.CompletedProcess[str]

    @property
    def ok(self) -> bool:
        return self.process.returncode == 0

    @property
    def message(self) -> dict[str, Any]:
        assert self.ok, self.process.stderr
        parsed: dict[str, Any] = json.loads(self.process.stdout.splitlines()[0])
        return parsed

    @property
    def text_line(self) -> str:
        return self.process.stdout.splitlines()[-1]


def send(script: Path, url: str, key: str, thread_id: str, text: str, message_id: str | None = None) -> SdkAnswer:
    """One message through the SDK to `url`'s /api/chat."""
    args = ["node", str(script), f"{url}/api/chat", key, thread_id, text, *([message_id] if message_id else [])]
    return SdkAnswer(subprocess.run(args, capture_output=True, text=True, timeout=60))
