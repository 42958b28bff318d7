"""A small HTTP service for HTTP-tool tests: records when each call ran, can be slow, fail or hang."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


class ToolBackend:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                started = time.monotonic()
                if url.path == "/slow":
                    time.sleep(int(query.get("ms", "0")) / 1000)
                elif url.path == "/hang":
                    time.sleep(5)
                backend.calls.append({"path": url.path, "query": query, "headers": dict(self.headers),
                                      "start": started, "end": time.monotonic()})
                status = 500 if url.path == "/fail" else 200
                body = json.dumps({"path": url.path, "query": query}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ToolBackend:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
