"""A scripted, OpenAI-compatible upstream LLM server for tests and benchmarks.

Real sockets, real SSE: Parlor's tests point its OpenAI provider at ``Upstream.url``; nothing is patched.

Stack: a bare ASGI callable on uvicorn (httptools, uvloop when installed) -- already Parlor dependencies; no
framework layer per chunk (one ``send`` per write), and uvicorn closes the socket mid-body when the app raises
after the response started, which is exactly the "broken stream" a scripted disconnect needs.

Run standalone (benchmarks: a separate process never shares a GIL with the server under test)::

    python -m tests.upstream --port 9100 --ttft 0.3 --token-delay 0.03 --tokens 150
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.upstream_script import (
    Message,
    Reply,
    Script,
    ScriptedToolCall,
    filler_tokens,
    last_user_text,
    split_tokens,
)

__all__ = ["Script", "ScriptedToolCall", "Upstream", "filler_tokens", "last_user_text", "main", "read_body",
           "split_tokens"]

Headers = list[tuple[bytes, bytes]]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MODELS = ("upstream-test",)
_ERRORS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
class _Drop(Exception):
    """Raised by the app after the response started: uvicorn then closes the socket mid-body."""


def _not_a_drop(record: logging.LogRecord) -> bool:
    """Log filter: uvicorn logs the exception that ends a deliberately broken stream; nobody needs it."""
    return not (record.exc_info and isinstance(record.exc_info[1], _Drop))


@dataclass
class _Call:
    """State shared by one request's responder and its disconnect watcher."""

    finished: bool = False
    client_gone: bool = False


class Upstream:
    """The scripted server, on its own event loop in a background thread. ``url`` ends in ``/v1``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Script | None = None,
        api_key: str | None = None,
    ) -> None:
        self.host, self.port, self.api_key = host, port, api_key
        self.default = default or Script()
        self._lock = threading.Lock()
        self._fifo: deque[Script] = deque()
        self._matched: list[tuple[str, Script]] = []
        self._requests: list[Message] = []
        self._disconnects = self._active = self._peak = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- scripting and inspection (from any thread) ----
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def push(self, script: Script, match: str | None = None) -> None:
        """Queue a script: for the first request whose last user message contains ``match``, else FIFO."""
        with self._lock:
            if match is None:
                self._fifo.append(script)
            else:
                self._matched.append((match, script))

    @property
    def requests(self) -> list[Message]:
        """JSON bodies of the chat-completion requests received, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        """Chat-completion requests the client abandoned before the response was complete."""
        with self._lock:
            return self._disconnects

    @property
    def active_streams(self) -> int:
        """Chat-completion requests being answered right now (streamed or not, hung ones included)."""
        with self._lock:
            return self._active

    @property
    def peak_streams(self) -> int:
        """The most chat-completion requests answered at once so far."""
        with self._lock:
            return self._peak

    def reset(self) -> None:
        """Forget queued scripts, recorded requests and the disconnect count."""
        with self._lock:
            self._fifo.clear()
            self._matched.clear()
            self._requests.clear()
            self._disconnects = 0

    def _take_script(self, body: Message) -> Script:
        text = last_user_text(body)
        with self._lock:
            self._requests.append(body)
            for i, (needle, _) in enumerate(self._matched):
                if needle in text:
                    return self._matched.pop(i)[1]
            return self._fifo.popleft() if self._fifo else self.default

    # ---- lifecycle ----
    def start(self) -> Upstream:
        """Bind (port 0: any free port, then read back into ``port``), serve in a thread, return once up."""
        if self._thread is not None:
            raise RuntimeError("upstream already started")
        sock = socket.create_server((self.host, self.port), backlog=4096)
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_not_a_drop)
        config = uvicorn.Config(
            self,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )  # http and loop stay "auto": httptools and uvloop when installed
        self._server = server = uvicorn.Server(config)
        ready, failure = threading.Event(), list[BaseException]()

        async def serve() -> None:
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
                await asyncio.sleep(0.005)
            ready.set()
            await serving

        def run() -> None:
            self._loop = loop = (config.get_loop_factory() or asyncio.new_event_loop)()
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:
                failure.append(exc)
            finally:
                ready.set()
                sock.close()
                loop.close()

        self._thread = threading.Thread(target=run, name=f"upstream:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure or not server.started:
            self.stop()
            raise RuntimeError(f"upstream failed to start: {failure!r}")
        return self

    def stop(self) -> None:
        """Drop every open request, stop serving, join the thread. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._shutdown)
        thread.join(10)
        self._thread = self._loop = None
        self._stopping = False

    def _shutdown(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the ASGI app ----
    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"].rstrip("/")
        auth = dict(scope["headers"]).get(b"authorization")
        if self.api_key is not None and auth != f"Bearer {self.api_key}".encode():
            return await _error(send, 401, "Incorrect API key provided.")
        if path == "/v1/models" and method == "GET":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "parlor-tests"} for m in MODELS]
            return await _json(send, 200, {"object": "list", "data": data})
        if path != "/v1/chat/completions" or method != "POST":
            return await _error(send, 404, f"No route {method} {path}.")
        if (raw := await read_body(receive)) is None:
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("'messages' must be a list")
        except ValueError as exc:
            return await _error(send, 400, f"Invalid request body: {exc}")
        await self._chat(body, self._take_script(body), receive, send)

    async def _chat(self, body: Message, script: Script, receive: Receive, send: Send) -> None:
        task, call = asyncio.current_task(), _Call()
        assert task is not None
        watcher = asyncio.create_task(_watch_disconnect(receive, task, call))
        self._tasks.add(task)
        with self._lock:
            self._active += 1
            self._peak = max(self._peak, self._active)
        try:
            if self._stopping:
                raise asyncio.CancelledError
            await self._respond(body, script, send, call)
        except asyncio.CancelledError:
            if call.client_gone:
                task.uncancel()  # swallowed on purpose: the request is over, the connection is gone
                with self._lock:
                    self._disconnects += 1
                return
            if self._stopping:
                raise _Drop("upstream stopping") from None
            raise
        finally:
            call.finished = True
            watcher.cancel()
            self._tasks.discard(task)
            with self._lock:
                self._active -= 1

    async def _respond(self, body: Message, script: Script, send: Send, call: _Call) -> None:
        start = time.monotonic()
        if script.hang:
            await asyncio.get_running_loop().create_future()  # until the client goes away or the server stops
        if script.status != 200:
            await _sleep_until(start + script.ttft)
            call.finished = True
            after = script.retry_after
            retry = [] if after is None else [(b"retry-after", f"{after:g}".encode())]
            return await _error(send, script.status, script.error_message, retry)
        reply = Reply(body, script)
        if not body.get("stream"):
            await _sleep_until(start + script.ttft + script.token_delay * max(0, reply.completion_tokens - 1))
            data = json.dumps(reply.completion()).encode()
            if script.disconnect_after is None:
                call.finished = True
                return await _json(send, 200, data)
            await _start(send, 200, b"application/json", [(b"content-length", b"%d" % len(data))])
            await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            raise _Drop("scripted disconnect")  # headers and half the body, then a dead socket

        await _start(send, 200, b"text/event-stream", [(b"cache-control", b"no-cache")])
        buffer: list[bytes] = []
        sent = 0  # content / argument chunks so far
        role = reply.chunk({"role": "assistant", "content": ""})
        for k, (piece, counts) in enumerate(itertools.chain([(role, False)], reply.chunks())):
            due = start + script.ttft + max(0, k - 1) * script.token_delay  # role and first token together
            if due > time.monotonic():  # chunks due at the same time go out in one write
                await _body(send, buffer)
                await _sleep_until(due)
            if counts and script.disconnect_after is not None and sent >= script.disconnect_after:
                break  # the stream dies when its next chunk is due
            buffer.append(piece)
            sent += counts
        if script.disconnect_after is not None:
            await _body(send, buffer)
            raise _Drop("scripted disconnect")
        buffer.append(reply.chunk({}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            buffer.append(reply.usage_chunk())
        buffer.append(b"data: [DONE]\n\n")
        call.finished = True
        await _body(send, buffer, more=False)


async def read_body(receive: Receive) -> bytes | None:
    """A request's whole body; None if the client went away first."""
    raw = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        raw += message.get("body", b"")
        more = message.get("more_body", False)
    return bytes(raw)


async def _sleep_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline``, never less (uvloop's timers round to 1 ms)."""
    while (delay := deadline - time.monotonic()) > 0:  # noqa: ASYNC110 - a timer, not a condition
        await asyncio.sleep(delay + 0.001)


async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any], call: _Call) -> None:
    """Cancel the responder when the client goes away before the response is complete."""
    while (await receive())["type"] != "http.disconnect":
        pass
    if not call.finished:
        call.client_gone = True
        task.cancel()


async def _start(send: Send, status: int, content_type: bytes, extra: Headers) -> None:
    headers = [(b"content-type", content_type), (b"x-request-id", uuid.uuid4().hex.encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _body(send: Send, buffer: list[bytes], more: bool = True) -> None:
    if buffer or not more:
        await send({"type": "http.response.body", "body": b"".join(buffer), "more_body": more})
        buffer.clear()


async def _json(send: Send, status: int, payload: Message | bytes, extra: Headers | None = None) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await _start(send, status, b"application/json", [(b"content-length", b"%d" % len(data)), *(extra or [])])
    await send({"type": "http.response.body", "body": data})


async def _error(send: Send, status: int, message: str | None, extra: Headers | None = None) -> None:
    fallback = ("server_error" if status >= 500 else "invalid_request_error", str(status))
    kind, code = _ERRORS.get(status, fallback)
    text = message or f"Scripted upstream error {status}."
    await _json(send, status, {"error": {"message": text, "type": kind, "code": code, "param": None}}, extra)


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.upstream``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.upstream", description="Scripted OpenAI upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first chunk")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--tokens", type=int, default=None, help="default reply of N tokens (else: echo)")
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tokens = None if args.tokens is None else filler_tokens(args.tokens)
    default = Script(tokens=tokens, ttft=args.ttft, token_delay=args.token_delay)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with Upstream(args.host, args.port, default=default, api_key=args.api_key) as upstream:
        print(f"upstream listening on {upstream.url}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
