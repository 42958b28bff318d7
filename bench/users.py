"""Simulated users for `bench/load.py`: each sends a message, reads the whole stream, thinks, sends the next.

One generator process runs many users on one event loop (uvloop) with one aiohttp connection pool; the
orchestrator starts several such processes when one core cannot drive them all. A user talks either to
Parlor (`POST /api/chat`, the AI SDK UI message stream, its own API key and threads) or, as the control
group that measures the upstream's own time to first token under the same load, to the upstream itself.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

PARLOR_MARK = b'"text-delta"'
OPENAI_MARK = b'"content":"'  # a chat.completion.chunk with text ("content":"" is the role chunk's)
RELAY_MARK = b'"text"'


@dataclass(frozen=True, slots=True)
class UserPlan:
    kind: str  # parlor | upstream | relay | litellm
    url: str
    key: str | None = None
    threads: tuple[str, ...] = ()  # its long threads (history seeded before the run)
    history: int = 0  # the control group: messages in each long thread's prompt, as Parlor would send them


@dataclass(frozen=True, slots=True)
class Schedule:
    start_at: float  # wall clock (time.time()): the ramp starts
    ramp: float  # users start spread over this many seconds
    measure_from: float  # wall clock: turns started from here on are measured (steady state)
    stop_at: float  # wall clock: no turn starts after this
    think: tuple[float, float]  # seconds between the end of a reply and the next message
    new_thread_share: float  # share of turns that open a new thread; the rest continue a long one
    timeout: float = 120.0


@dataclass
class Results:
    kind: str = ""
    ttft: list[float] = field(default_factory=list)  # seconds, measured turns only
    turns: int = 0  # completed (finish received), measured or not
    errors: Counter[str] = field(default_factory=Counter)
    tokens: int = 0  # output tokens delivered (reported usage, or deltas counted)
    done: list[tuple[str, str, str]] = field(default_factory=list)  # (thread, client message id, request id)
    attempted: list[tuple[str, str]] = field(default_factory=list)  # (thread, client message id)

    def merge(self, other: Results) -> None:
        self.ttft += other.ttft
        self.turns += other.turns
        self.errors.update(other.errors)
        self.tokens += other.tokens
        self.done += other.done
        self.attempted += other.attempted


class TurnError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# What Parlor's upstream request carries besides the history: a system prompt and its five default tools.
# The control group sends the same, so the upstream's own time to first token is for a prompt of that size.
SYSTEM = {"role": "system", "content": "You are Parlor, a helpful assistant. Answer clearly and concisely. " * 3}
TOOLS = [{"type": "function", "function": {
    "name": f"tool_{i}", "description": "What this tool does, when to call it and what it returns. " * 5,
    "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "the input"},
                                                    "limit": {"type": "integer", "minimum": 1}},
                   "required": ["query"]}}} for i in range(5)]


def control_prompt(plan: UserPlan, thread: str, text: str) -> list[dict[str, str]]:
    history = plan.history if thread in plan.threads else 0
    earlier = [{"role": "user" if k % 2 == 0 else "assistant",
                "content": f"Earlier message {k}: " + "some words of a long conversation " * 6} for k in range(history)]
    return [SYSTEM, *earlier, {"role": "user", "content": text}]


def request_for(plan: UserPlan, thread: str, message_id: str, text: str) -> tuple[str, bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if plan.key:
        headers["Authorization"] = f"Bearer {plan.key}"
    if plan.kind == "parlor":
        body: dict[str, Any] = {"id": thread, "trigger": "submit-message", "messages": [
            {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}]}
        return f"{plan.url}/api/chat", orjson.dumps(body), headers
    if plan.kind == "relay":
        return f"{plan.url}/chat", orjson.dumps({"message": text, "thread_id": thread}), headers
    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": text}]}
    if plan.kind == "upstream":
        body.update(messages=control_prompt(plan, thread, text), tools=TOOLS, stream_options={"include_usage": True})
    return f"{plan.url}/chat/completions", orjson.dumps(body), headers


MARKS = {"parlor": PARLOR_MARK, "upstream": OPENAI_MARK, "litellm": OPENAI_MARK, "relay": RELAY_MARK}
DONE = (b"[DONE]", b'"status": "complete"')  # OpenAI's end; the brief's relay's `done` event


def is_token(mark: bytes, line: bytes) -> bool:
    return mark in line and b'"content":""' not in line


async def one_turn(session: aiohttp.ClientSession, plan: UserPlan, thread: str, text: str,
                   results: Results, measured: bool) -> None:
    message_id = uuid.uuid4().hex
    url, body, headers = request_for(plan, thread, message_id, text)
    results.attempted.append((thread, message_id))
    mark, started, ttft, finished, request_id, deltas = MARKS[plan.kind], time.perf_counter(), None, False, "", 0
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise TurnError(await _error_code(response))
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            if is_token(mark, line):
                deltas += len(orjson.loads(line[5:])["text"].split()) if plan.kind == "relay" else 1
                if ttft is None:
                    ttft = time.perf_counter() - started
            elif plan.kind == "parlor":
                finished, request_id, tokens = _parlor_control(line, finished, request_id)
                results.tokens += tokens
            elif any(end in line for end in DONE):
                finished = True
    if ttft is None or not finished:
        raise TurnError("stream_without_text" if ttft is None else "stream_without_finish")
    if plan.kind != "parlor":
        results.tokens += deltas
    results.turns += 1
    results.done.append((thread, message_id, request_id))
    if measured:
        results.ttft.append(ttft)


def _parlor_control(line: bytes, finished: bool, request_id: str) -> tuple[bool, str, int]:
    """A UI stream chunk that is not a text delta: start (request id), finish (usage), error."""
    if b'"type":"start"' in line:
        return finished, orjson.loads(line[5:])["messageMetadata"]["requestId"], 0
    if b'"type":"finish"' in line:
        usage = orjson.loads(line[5:]).get("messageMetadata", {}).get("usage") or {}
        return True, request_id, int(usage.get("outputTokens") or 0)
    if b'"type":"error"' in line:
        raise TurnError("stream_error")
    return finished, request_id, 0


async def _error_code(response: aiohttp.ClientResponse) -> str:
    try:
        envelope = orjson.loads(await response.read())
        return f"{response.status}:{envelope['error']['code']}"
    except (orjson.JSONDecodeError, KeyError, TypeError, aiohttp.ClientError):
        return str(response.status)


async def user(session: aiohttp.ClientSession, plan: UserPlan, schedule: Schedule, results: Results,
               rng: random.Random) -> None:
    threads = list(plan.threads)
    await asyncio.sleep(max(0.0, schedule.start_at + rng.uniform(0, schedule.ramp) - time.time()))
    while time.time() < schedule.stop_at:
        if not threads or rng.random() < schedule.new_thread_share:
            threads.append(uuid.uuid4().hex)
            thread = threads[-1]
        else:
            thread = rng.choice(threads)
        measured = time.time() >= schedule.measure_from
        try:
            await asyncio.wait_for(one_turn(session, plan, thread, f"Question {rng.randrange(10**6)}: what next?",
                                            results, measured), schedule.timeout)
        except TurnError as exc:
            results.errors[exc.code] += 1
        except TimeoutError:
            results.errors["client_timeout"] += 1
        except aiohttp.ClientError as exc:
            results.errors[type(exc).__name__] += 1
        await asyncio.sleep(rng.uniform(*schedule.think))


async def drive(plans: list[UserPlan], schedule: Schedule, seed: int) -> dict[str, Results]:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    results = {kind: Results(kind) for kind in {plan.kind for plan in plans}}
    rng = random.Random(seed)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, read_bufsize=2**16) as session:
        await asyncio.gather(*(user(session, plan, schedule, results[plan.kind], random.Random(rng.random()))
                               for plan in plans))
    return results


def run_process(plans: list[UserPlan], schedule: Schedule, seed: int) -> dict[str, Results]:
    """Entry point of one generator process."""
    import uvloop

    return uvloop.run(drive(plans, schedule, seed))


@dataclass
class Held:
    """Streams opened at once: when each delivered its first token and when it ended (wall clock)."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Held) -> None:
        self.spans += other.spans
        self.errors.update(other.errors)

    def peak(self) -> int:
        """The most streams open (first token seen, end not yet) at one moment."""
        edges = sorted([(start, 1) for start, _ in self.spans] + [(end, -1) for _, end in self.spans])
        best = current = 0
        for _, step in edges:
            current += step
            best = max(best, current)
        return best


async def hold_one(session: aiohttp.ClientSession, plan: UserPlan, start_at: float, held: Held) -> None:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    url, body, headers = request_for(plan, uuid.uuid4().hex, uuid.uuid4().hex, "Tell me a long story.")
    first = None
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                raise TurnError(await _error_code(response))
            async for line in response.content:
                if first is None and is_token(MARKS[plan.kind], line):
                    first = time.time()
        if first is None:
            raise TurnError("stream_without_text")
        held.spans.append((first, time.time()))
    except TurnError as exc:
        held.errors[exc.code] += 1
    except aiohttp.ClientError as exc:
        held.errors[type(exc).__name__] += 1


def hold_process(plans: list[UserPlan], starts: list[float]) -> Held:
    """Entry point of one generator process of the open-streams test."""
    import uvloop

    async def run() -> Held:
        held = Held()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
            await asyncio.gather(*(hold_one(session, plan, at, held) for plan, at in zip(plans, starts, strict=True)))
        return held

    return uvloop.run(run())
