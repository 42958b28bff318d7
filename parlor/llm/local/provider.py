"""The `local` provider: a GGUF model run in-process by llama.cpp (the `xllamacpp` runtime).

One model instance is driven by its own worker thread(s) — never by the event loop. Requests wait
in one bounded first-come-first-served queue; past its bound a request fails at once with a `busy`
ProviderError (the API answers `503 local_model_busy`). Deltas cross from the worker to the caller's
event loop through `call_soon_threadsafe`; a caller that stops reading (stop, disconnect, timeout)
flags its job, and the runtime's per-token callback ends the generation at the next token, freeing
the model for the next request at once. The runtime keeps each slot's prompt cache, so the next turn
of the same thread re-reads only the new messages.

Tools are used the way small models use them well (measured by bench/quality.py): a message a tool's hint
matches first gets a grammar-constrained decision (decide.py), in the same job, so the answer that may
follow reuses the decision's prompt cache; the conversation is plain text (prompt.py); and whatever
protocol markup an answer still writes is dropped before it leaves (markup.py); a reasoning model's leading
`<think>` block streams as reasoning (llm/think.py).
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
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlor.llm.local import decide
from parlor.llm.local.files import CATALOG, ModelFileError, resolve
from parlor.llm.local.gguf import GGUFError, build_tokenizer, read_metadata
from parlor.llm.local.loops import LoopGuard
from parlor.llm.local.markup import MarkupFilter
from parlor.llm.local.prompt import conversation, ends_with_results
from parlor.llm.think import ThinkSplitter
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    FinishReason,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
    UsageDelta,
)

log = logging.getLogger(__name__)
FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "tool_calls": "tool-calls"}


@dataclass(eq=False)
class _Job:
    body: dict[str, Any]  # the answer's request
    loop: asyncio.AbstractEventLoop
    decision: dict[str, Any] | None = None  # asked first when tools are offered; a call skips the answer
    tools: list[ToolSpec] = field(default_factory=list)
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
        bundled = CATALOG.get(model) if model_path is None else None
        self._sampling = dict(bundled.sampling) if bundled else {}  # a request's temperature still wins
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
        self._workers = [threading.Thread(target=self._work, args=(i,), name=f"local-model-{name}-{i}", daemon=True)
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
        # each worker has two slots, each with the whole context size and its own prompt cache: one for
        # answers, one for tool decisions (whose prompt opens differently: sharing one slot, each would
        # evict the other's cache and re-read the whole conversation every turn)
        params.n_ctx = self._context_size * 2 * self._parallel
        params.n_parallel = 2 * self._parallel
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
        job = self._job(request, asyncio.get_running_loop())
        with self._cond:
            if self._closing:
                raise ProviderError(self.name, "unavailable", "the local model is shutting down")
            if len(self._waiting) >= self._queue_size:
                raise ProviderError(self.name, "busy", f"the local model is busy ({len(self._waiting)} requests "
                                                       "waiting); try again in a moment")
            self._waiting.append(job)
            self._cond.notify()
        try:
            async for delta in self._deltas(job):
                yield delta
        finally:
            job.cancelled.set()  # the worker stops at the next token
            with self._cond:
                if job in self._waiting:
                    self._waiting.remove(job)

    def _job(self, request: CompletionRequest, loop: asyncio.AbstractEventLoop) -> _Job:
        messages = conversation(request.messages)
        body: dict[str, Any] = {"messages": messages, "stream": True, "stream_options": {"include_usage": True},
                                "cache_prompt": True, **self._sampling}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = request.stop[:4]
        choice = decide.tool_choice(request.tool_choice)
        if not request.tools or choice is None or ends_with_results(request.messages):
            return _Job(body, loop)
        required, only = choice
        candidates = request.tools if required or only else decide.candidates(request.tools, request.messages)
        if not candidates:
            return _Job(body, loop)
        decision = {**body, "messages": decide.question(request.tools, messages), "temperature": 0,
                    "json_schema": decide.schema(candidates, required, only), "max_tokens": decide.MAX_DECISION_TOKENS}
        decision.pop("stop", None)
        if decide.hinted(candidates) and not (required or only):
            decision["logit_bias"] = [["none", decide.NONE_BIAS]]
        return _Job(body, loop, decision, list(candidates))

    async def _deltas(self, job: _Job) -> AsyncGenerator[Delta, None]:
        markup = MarkupFilter()
        think = ThinkSplitter()  # a reasoning model's leading <think> block, before the markup filter sees text
        loop = LoopGuard()
        finish: FinishReason = "stop"
        usage = Usage()
        generated = ""
        while True:
            kind, value = await job.out.get()
            if kind == "error":
                raise ProviderError(self.name, value[0], value[1])
            if kind == "done":
                break
            if kind == "decided":  # (the call or None, the decision's usage)
                call, spent = value
                usage = _add(usage, spent)
                if call is not None:
                    yield ToolCallDelta(index=0, id=f"call_{uuid.uuid4().hex[:24]}", name=call.tool,
                                        arguments=call.arguments)
                    finish = "tool-calls"
                continue
            if value.get("usage"):
                usage = _add(usage, _usage(value["usage"]))
            for choice in value.get("choices") or []:
                if reason := choice.get("finish_reason"):
                    finish = FINISH.get(reason, "other")
                delta = choice.get("delta") or {}
                piece = delta.get("content") or ""
                generated += piece + (thought := delta.get("reasoning_content") or "")
                if thought:  # the runtime's own reasoning parser took the thoughts out of the text
                    yield ReasoningDelta(thought)
                for out in _filtered(think.feed(piece) if piece else [], markup):
                    yield out
                if piece and loop.looping(piece):
                    log.warning("local model %s: stopped an answer repeating itself", self.model)
                    job.cancelled.set()  # the worker ends the generation at its next token
                    finish = "length"
                    # the runtime reports usage only at the end: count what it read and wrote
                    usage = _add(usage, Usage(self._prompt_tokens(job.body), self.count_tokens(generated)))
                    break
            if finish == "length" and job.cancelled.is_set():
                break
        for out in _filtered(think.end(), markup):
            yield out
        if rest := markup.end():
            yield TextDelta(rest)
        if markup.stripped:
            log.warning("local model %s: stripped protocol markup from an answer (%d piece(s))", self.model,
                        markup.stripped)
        yield UsageDelta(usage)
        yield FinishDelta(finish)

    def _prompt_tokens(self, body: dict[str, Any]) -> int:
        return sum(self.count_tokens(m["content"]) + 4 for m in body["messages"])  # 4: a turn's template tokens

    # ---- the worker ----

    def _work(self, index: int) -> None:
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
                self._run(job, answers=2 * index, decisions=2 * index + 1)
            finally:
                with self._cond:
                    self._running.discard(job)

    def _run(self, job: _Job, answers: int, decisions: int) -> None:
        """The job on this worker's slots: the decision first (if any), then the answer it allows."""
        if job.decision is not None:
            decided = self._decide(job, {**job.decision, "id_slot": decisions})
            if decided is None:
                job.post("done")  # failed (the error went first) or stopped
                return
            job.post("decided", decided)
            if decided[0] is not None:
                job.post("done")
                return
        failure = self._generate(job, {**job.body, "id_slot": answers}, job.post)
        if failure is not None:
            job.post("error", failure)
        job.post("done")  # after an error too: a reader that got it has gone, and one that stopped never reads

    def _decide(self, job: _Job, body: dict[str, Any]) -> tuple[decide.Decision | None, Usage] | None:
        """The decision's call (None: answer without one) and what it cost; None if it failed or stopped.
        A tool schema the runtime cannot turn into a grammar is asked again with loose arguments."""
        reply: list[str] = []
        spent: list[Usage] = []

        def collect(_: str, chunk: dict[str, Any]) -> None:
            if chunk.get("usage"):
                spent.append(_usage(chunk["usage"]))
            reply.extend((c.get("delta") or {}).get("content") or "" for c in chunk.get("choices") or [])

        failure = self._generate(job, body, collect)
        if failure is not None and failure[0] == "rejected" and not reply:
            log.warning("local model %s: a tool schema was refused as a grammar (%s); deciding with loose "
                        "arguments", self.model, failure[1])
            failure = self._generate(job, {**body, "json_schema": decide.loose_schema(job.tools)}, collect)
        if failure is not None:
            job.post("error", failure)
            return None
        if job.cancelled.is_set():
            return None
        return decide.parse("".join(reply), job.tools), spent[-1] if spent else Usage()

    def _generate(self, job: _Job, body: dict[str, Any], post: Any) -> tuple[str, str] | None:
        """Runs one request, handing each chunk to `post`; the error (kind, message) if it failed."""
        failed: list[dict[str, Any]] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if job.cancelled.is_set():
                return True  # stop generating: the runtime ends the request at this token
            if "error" in chunk:
                failed.append(chunk["error"])
                return True
            post("chunk", chunk)
            return False

        try:
            self._runtime.handle_chat_completions(body, on_chunk)
        except Exception as exc:
            log.exception("local model %s failed", self.model)
            return "broken_stream", f"the local model failed: {exc}"
        if failed:
            error = failed[0]
            message = str(error.get("message") or error) if isinstance(error, dict) else str(error)
            kind = "rejected" if isinstance(error, dict) and error.get("code") == 400 else "broken_stream"
            return kind, _one_line(message)
        return None

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


def _filtered(parts: list[ReasoningDelta | TextDelta], markup: MarkupFilter) -> Iterator[Delta]:
    """Thoughts as they came; the answer's text through the markup filter."""
    for part in parts:
        if isinstance(part, ReasoningDelta):
            yield part
        elif text := markup.feed(part.text):
            yield TextDelta(text)


def _usage(raw: dict[str, Any]) -> Usage:
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def _add(total: Usage, call: Usage) -> Usage:
    """A decision and the answer after it: the answer's prompt is the decision's less its question (read
    once, from the cache), so the prompt counts once and the tokens generated add up."""
    return Usage(max(total.tokens_in, call.tokens_in), total.tokens_out + call.tokens_out)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:300]
