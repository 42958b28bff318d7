"""The UI message stream, consumed by the AI SDK's own transport and parser (tests/sdk_chat.mjs)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests import sdk
from tests.conftest import RunningServer


def test_the_ai_sdk_assembles_our_stream(sdk_script: Path, server: RunningServer, marker: str) -> None:
    thread_id = uuid.uuid4().hex
    answer = sdk.send(sdk_script, server.url, server.api_key, thread_id, f"conform {marker}")
    message = answer.message
    assert message["role"] == "assistant"
    assert answer.text_line == f"TEXT: You said: conform {marker}"
    assert message["metadata"]["provider"] == "up" and message["metadata"]["threadId"] == thread_id

    follow_up = sdk.send(sdk_script, server.url, server.api_key, thread_id, f"and again {marker}")
    assert follow_up.ok, follow_up.process.stderr


def test_a_protocol_error_fails_the_check(sdk_script: Path, server: RunningServer) -> None:
    """The check can fail: a stream the SDK cannot parse (here: no stream at all, a 401) exits non-zero."""
    answer = sdk.send(sdk_script, server.url, "pk-not-a-key", uuid.uuid4().hex, "hello")
    assert not answer.ok and "PROTOCOL ERROR" in answer.process.stderr


class _Malformed(BaseHTTPRequestHandler):
    """Answers a chat with a UI stream whose text-delta has no text-start (the SDK must refuse it)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in (
            {"type": "start"}, {"type": "text-delta", "id": "t", "delta": "orphan"}, {"type": "finish"}))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("x-vercel-ai-ui-message-stream", "v1")
        self.end_headers()
        self.wfile.write(f"{body}data: [DONE]\n\n".encode())

    def log_message(self, *_: object) -> None:
        pass


def test_a_malformed_stream_fails_the_check(sdk_script: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Malformed) as upstream:
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        answer = sdk.send(sdk_script, f"http://127.0.0.1:{upstream.server_address[1]}", "", "t", "hello")
        upstream.shutdown()
    assert not answer.ok and "PROTOCOL ERROR" in answer.process.stderr
