"""The `local` provider: a GGUF model run in-process by llama.cpp (the `xllamacpp` runtime).

One model instance is driven by its own worker thread(s) — never by the event loop. Requests wait
in one bounded first-come-first-served queue; past its bound a request fails at once with a `busy`
ProviderError (the API answers `503 local_model_busy`). Deltas cross from the worker to the caller's
event loop through `call_soon_threadsafe`; a caller that stops reading (stop, disconnect, timeout)
flags its job, and the runtime's per-token callback ends the generation at the next token, freeing
the model for the next request at once. The runtime keeps each slot's prompt cache, so the next turn
of the same thread re-reads only the new messages.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlor.llm.local.files import ModelFileError, resolve
from parlor.llm.local.gguf import GGUFError, build_tokenizer, read_metadata
from parlor.llm.local.toolcalls import parse_tool_calls, prompt_messages, scan_stream
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    FinishReason,
    ProviderError,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

log = logging.getLogger(__name__)
FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool-calls"}


@dataclass(eq=False)
class _Job:
    body: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.perf_counter)

    def post(self, kind: str, value: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, (kind, value))
        except RuntimeError:  # the caller's loop is gone
            self.cancelled.set()


class LocalProvider:
    def __init__(self, name: str, model: str, *, model_path: Path | None = None, models_dir: Path = Path("data/models"),
                 threads: int | None = None, context_size: int = 4096, parallel: int = 1, queue_size: int = 8):
        self.name = name
        self.model = model if model_path is None or model != "default" else model_path.stem
        self._model_name = model
        self._model_path = model_path
        self._models_dir = models_dir
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._context_size = context_size
        self._parallel = parallel
        self._queue_size = queue_size
        self._waiting: deque[_Job] = deque()
        self._running: set[_Job] = set()
        self._cond = threading.Condition()
        self._closing = False
        self._runtime: Any = None
        self._tokenizer: Any = None
        self._tokenizer_ready = threading.Event()
        self._ready = threading.Event()
        self._error: str | None = None
        self.load_seconds: float | None = None
        self.path: Path | None = None
        self._loader = threading.Thread(target=self._load, name=f"local-model-load-{name}", daemon=True)
        self._workers = [threading.Thread(target=self._work, name=f"local-model-{name}-{i}", daemon=True)
                         for i in range(parallel)]
        self._loader.start()
        for worker in self._workers:
            worker.start()

    # ---- loading (in its own thread: joining a model and loading it never holds up the event loop) ----

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            self.path = resolve(self._model_name, self._model_path, self._models_dir)
            try:
                self._tokenizer = build_tokenizer(read_metadata(self.path))
            except (GGUFError, KeyError, ValueError) as exc:
                log.warning("local model %s: no tokenizer from its metadata (%s); counting tokens roughly",
                            self.model, exc)
            self._tokenizer_ready.set()
            self._runtime = self._start_runtime(self.path)
            self.load_seconds = time.perf_counter() - started
            log.info("local model %s loaded from %s in %.1f s (%d threads, context %d, %d slot(s))", self.model,
                     self.path.name, self.load_seconds, self._threads, self._context_size, self._parallel)
        except ModelFileError as exc:
            self._error = str(exc)
            log.error("%s", exc)
        except Exception as exc:  # the runtime refused the file
            self._error = f"local model {self.model}: could not load {self.path}: {exc}"
            log.error("%s", self._error)
        finally:
            self._tokenizer_ready.set()
            self._ready.set()

    def _start_runtime(self, path: Path) -> Any:
        import xllamacpp  # type: ignore[import-untyped]

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self._context_size * self._parallel  # each slot gets the whole context size
        params.n_parallel = self._parallel
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        params.verbosity = -1
        params.use_jinja = True  # the chat template from the GGUF metadata, run as Jinja
        params.cache_prompt = True
        # the runtime also listens on a loopback port: nothing of Parlor's uses it, so lock it
        params.api_keys = [secrets.token_urlsafe(32)]
        params.endpoint_slots = False
        params.endpoint_metrics = False
        params.n_threads_http = 1
        return xllamacpp.Server(params)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Blocks until the model is loaded (or failed to); True when it can answer."""
        return self._ready.wait(timeout) and self._error is None

    @property
    def error(self) -> str | None:
        return self._error

    # ---- the tokenizer (for exact token counts) ----

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's own vocabulary. Waits for the vocabulary (read from the model
        file's metadata, not its weights) on first use; a rough count if the file is unusable."""
        self._tokenizer_ready.wait(600)
        if self._tokenizer is None:
            return math.ceil(len(text.encode()) / 3.5)
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    # ---- generation ----

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        if self._error is not None:
            raise ProviderError(self.name, "unavailable", self._error)
        job = _Job(self._body(request), asyncio.get_running_loop())
        with self._cond:
            if self._closing:
                raise ProviderError(self.name, "unavailable", "the local model is shutting down")
            if len(self._waiting) >= self._queue_size:
                raise ProviderError(self.name, "busy", f"the local model is busy ({len(self._waiting)} requests "
                                                       "waiting); try again in a moment")
            self._waiting.append(job)
            self._cond.notify()
        try:
            answering = bool(request.messages) and request.messages[-1].role == "tool"  # see prompt_messages
            offered = set() if answering or request.tool_choice == "none" else {t.name for t in request.tools}
            async for delta in self._deltas(job, offered):
                yield delta
        finally:
            job.cancelled.set()  # the worker stops at the next token
            with self._cond:
                if job in self._waiting:
                    self._waiting.remove(job)

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": prompt_messages(request.messages, [] if request.tool_choice == "none" else request.tools),
            "stream": True,
            "stream_options": {"include_usage": True},
            "cache_prompt": True,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop[:4]
        return body

    async def _deltas(self, job: _Job, tool_names: set[str]) -> AsyncGenerator[Delta, None]:
        text = ""  # everything generated
        sent = 0  # how much of it went out as text
        held: int | None = None  # where a possible tool call starts: held back until the end
        finish: FinishReason = "stop"
        usage: Usage | None = None
        while True:
            kind, value = await job.out.get()
            if kind == "error":
                raise ProviderError(self.name, value[0], value[1])
            if kind == "done":
                break
            if value.get("usage"):
                u = value["usage"]
                usage = Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
            for choice in value.get("choices") or []:
                if reason := choice.get("finish_reason"):
                    finish = FINISH.get(reason, "other")
                piece = (choice.get("delta") or {}).get("content")
                if not piece:
                    continue
                text += piece
                if not tool_names:
                    sent = len(text)
                    yield TextDelta(piece)
                    continue
                if held is not None:
                    continue
                held, upto = scan_stream(text, sent)
                if upto > sent:
                    yield TextDelta(text[sent:upto])
                    sent = upto
        if held is not None or sent < len(text):
            parsed = parse_tool_calls(text[sent:], tool_names)
            if parsed.text:
                yield TextDelta(parsed.text if parsed.calls else text[sent:])
            for index, call in enumerate(parsed.calls):
                yield ToolCallDelta(index=index, id=f"call_{uuid.uuid4().hex[:24]}", name=call.name,
                                    arguments=call.arguments)
            if parsed.calls:
                finish = "tool-calls"
        if usage is not None:
            yield UsageDelta(usage)
        yield FinishDelta(finish)

    # ---- the worker ----

    def _work(self) -> None:
        self._ready.wait()
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                job = self._waiting.popleft()
                self._running.add(job)
            try:
                if job.cancelled.is_set():
                    continue
                if self._error is not None or self._runtime is None:
                    job.post("error", ("unavailable", self._error or "the local model is not loaded"))
                    continue
                self._run(job)
            finally:
                with self._cond:
                    self._running.discard(job)

    def _run(self, job: _Job) -> None:
        failed: list[dict[str, Any]] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if job.cancelled.is_set():
                return True  # stop generating: the runtime ends the request at this token
            if "error" in chunk:
                failed.append(chunk["error"])
                return True
            job.post("chunk", chunk)
            return False

        try:
            self._runtime.handle_chat_completions(job.body, on_chunk)
        except Exception as exc:
            log.exception("local model %s failed", self.model)
            job.post("error", ("broken_stream", f"the local model failed: {exc}"))
            return
        if failed:
            error = failed[0]
            message = str(error.get("message") or error) if isinstance(error, dict) else str(error)
            kind = "rejected" if isinstance(error, dict) and error.get("code") == 400 else "broken_stream"
            job.post("error", (kind, _one_line(message)))
        else:
            job.post("done")

    async def aclose(self) -> None:
        with self._cond:
            self._closing = True
            for job in [*self._waiting, *self._running]:
                job.cancelled.set()  # running ones stop at their next token
            self._waiting.clear()
            self._cond.notify_all()
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for worker in self._workers:
            worker.join(timeout=30)
        self._runtime = None  # the runtime's destructor stops its loop and frees the model


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:300]
