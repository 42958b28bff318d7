"""The answer-quality suite: what the bundled models say, judged automatically.

Starts a real `parlor serve` with one bundled local model and everything else at its defaults (system
prompt, tools, memory, knowledge), sends the shipped prompts (tests/data/quality/prompts.toml) through
`POST /api/chat` as the web UI does, and checks every answer (bench/quality_checks.py). Prints a table per
model — pass rate per check and per category, tokens/s, time to first token — then every failure verbatim.

    python bench/quality.py                                  # the default model, qwen2.5-coder-1.5b
    python bench/quality.py --model qwen2.5-coder-0.5b --floor 0.8   # exits 1 below the floor (CI)
    python bench/quality.py --only arithmetic --runs 3       # a category (or a case id), three times

Exit status: 1 when the pass rate (cases whose every check passed) is under --floor, or when any answer
shows protocol markup (more than --max-leaks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tomllib
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quality_checks import GENERAL, Answer, Expectations, Verdict, general, saved_fact, specific  # noqa: E402
from tests.client import auth, chat  # noqa: E402
from tests.server import ParlorServer  # noqa: E402

CASES = ROOT / "tests" / "data" / "quality"
MODELS_DIR = ROOT / "data" / "models"  # shared with `make run`: a bundled model is joined once per checkout
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
STRIPPED = "stripped protocol markup"  # the local provider's log line when its filter dropped some


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    turns: tuple[str, ...]
    expect: Expectations
    saved_fact: str | None = None
    memories: tuple[str, ...] = ()
    document: str | None = None
    attach: bool = False


def load_cases(folder: Path = CASES) -> list[Case]:
    with (folder / "prompts.toml").open("rb") as file:
        raw = tomllib.load(file)["case"]
    fields = set(Expectations.__dataclass_fields__)
    cases = []
    for item in raw:
        expect = {k: (tuple(v) if isinstance(v, list) else v) for k, v in item.items() if k in fields}
        cases.append(Case(item["id"], item["category"], tuple(item["turns"]), Expectations(**expect),
                          item.get("saved_fact"), tuple(item.get("memories", ())), item.get("document"),
                          bool(item.get("attach", False))))
    return cases


@dataclass
class Outcome:
    case: Case
    answers: list[Answer] = field(default_factory=list)
    checks: dict[str, Verdict] = field(default_factory=dict)  # a failure of any turn fails the check

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.checks.values())


class Suite:
    """Runs cases against one server, each case as a new user (their own memory and documents)."""

    def __init__(self, server: ParlorServer, folder: Path = CASES):
        self._server = server
        self._folder = folder

    def run(self, case: Case) -> Outcome:
        key = self._server.create_user(f"q-{case.id}-{uuid.uuid4().hex[:6]}")
        thread_id = uuid.uuid4().hex
        for fact in case.memories:
            self._post(key, "/api/memories", json={"text": fact}).raise_for_status()
        if case.document:
            self._upload(key, case.document, thread_id if case.attach else None)
        outcome = Outcome(case)
        for index, text in enumerate(case.turns):
            answer = self._ask(key, thread_id, text)
            outcome.answers.append(answer)
            final = index == len(case.turns) - 1
            self._merge(outcome, general(answer, case.expect, final), index)
        self._merge(outcome, specific(outcome.answers[-1], case.expect), len(case.turns) - 1)
        if case.saved_fact:
            saved = [m["text"] for m in self._get(key, "/api/memories").json()["memories"]]
            outcome.checks["saved_fact"] = saved_fact(saved, case.saved_fact)
        return outcome

    @staticmethod
    def _merge(outcome: Outcome, verdicts: dict[str, Verdict], turn: int) -> None:
        for name, verdict in verdicts.items():
            earlier = outcome.checks.get(name)
            if earlier is None or (earlier.passed and not verdict.passed):
                detail = f"turn {turn + 1}: {verdict.detail}" if len(outcome.case.turns) > 1 else verdict.detail
                outcome.checks[name] = Verdict(verdict.passed, detail if not verdict.passed else "")

    def _ask(self, key: str, thread_id: str, text: str) -> Answer:
        caught = self._stripped()
        started = time.perf_counter()
        result = chat(self._server.url, key, thread_id, text, timeout=900)
        seconds = time.perf_counter() - started
        if result.status != 200:
            return Answer("", error=f"HTTP {result.status}: {result.body}", seconds=seconds)
        answer = answer_of(result.chunks, seconds)
        answer.markup_stripped = self._stripped() - caught
        return answer

    def _stripped(self) -> int:
        """Answers whose markup the server's last line of defence dropped (it logs each): still leaks."""
        log = self._server.log.read_text(errors="replace") if self._server.log.exists() else ""
        return log.count(STRIPPED)

    def _upload(self, key: str, name: str, thread_id: str | None) -> None:
        data = {"thread_id": thread_id} if thread_id else None
        files = {"file": (name, (self._folder / name).read_bytes(), "text/markdown")}
        document = self._post(key, "/api/documents", files=files, data=data).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = self._get(key, f"/api/documents/{document['id']}").json()["status"]
            if status == "ready":
                return
            if status == "failed":
                raise RuntimeError(f"{name} failed to ingest")
            time.sleep(0.2)
        raise RuntimeError(f"{name} was not ready in 120 s")

    def _post(self, key: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self._server.url}{path}", headers=auth(key), timeout=60, **kwargs)

    def _get(self, key: str, path: str) -> httpx.Response:
        return httpx.get(f"{self._server.url}{path}", headers=auth(key), timeout=60)


def answer_of(chunks: list[dict[str, Any]], seconds: float) -> Answer:
    """An answer as the AI SDK assembles it: text parts (one per text-start), tool calls, sources."""
    texts: dict[str, str] = {}
    answer = Answer("", seconds=seconds)
    for chunk in chunks:
        kind = chunk["type"]
        if kind == "text-delta":
            texts[chunk["id"]] = texts.get(chunk["id"], "") + chunk["delta"]
        elif kind in ("tool-input-available", "tool-input-error"):
            answer.tool_calls.append((chunk["toolName"], chunk.get("input")))
        elif kind == "source-document":
            answer.sources.append(chunk)
        elif kind == "error":
            answer.error = chunk.get("errorText")
        elif kind == "finish":
            answer.finished = True
            metadata = chunk.get("messageMetadata") or {}
            answer.ttft_ms = metadata.get("ttftMs")
            answer.output_tokens = int((metadata.get("usage") or {}).get("outputTokens") or 0)
    answer.text = "\n\n".join(t.strip() for t in texts.values() if t.strip())
    return answer


# ---- the report ----

def report(model: str, outcomes: list[Outcome]) -> str:
    lines = [f"## {model}: {sum(o.passed for o in outcomes)}/{len(outcomes)} cases passed "
             f"({pass_rate(outcomes):.0%}), {leaks(outcomes)} with protocol markup", ""]
    lines += ["| check | passed | rate |", "|---|---|---|"]
    names = [*GENERAL, *sorted({n for o in outcomes for n in o.checks} - set(GENERAL))]
    for name in names:
        judged = [o.checks[name] for o in outcomes if name in o.checks]
        if judged:
            ok = sum(v.passed for v in judged)
            lines.append(f"| {name} | {ok}/{len(judged)} | {ok / len(judged):.0%} |")
    lines += ["", "| category | passed | rate |", "|---|---|---|"]
    for category in dict.fromkeys(o.case.category for o in outcomes):
        group = [o for o in outcomes if o.case.category == category]
        lines.append(f"| {category} | {sum(o.passed for o in group)}/{len(group)} | {pass_rate(group):.0%} |")
    answers = [a for o in outcomes for a in o.answers]
    ttfts = [a.ttft_ms for a in answers if a.ttft_ms is not None]
    generating = sum(max(a.seconds - (a.ttft_ms or 0) / 1000, 1e-3) for a in answers if a.output_tokens)
    tokens = sum(a.output_tokens for a in answers)
    lines += ["", f"{len(answers)} answers, {tokens} tokens: {tokens / generating if generating else 0:.1f} "
                  f"tokens/s end to end (tool steps included); time to first token median "
                  f"{statistics.median(ttfts) if ttfts else 0:.0f} ms, max {max(ttfts, default=0):.0f} ms"]
    return "\n".join(lines)


def failures(outcomes: list[Outcome]) -> str:
    lines = []
    for outcome in outcomes:
        if outcome.passed:
            continue
        failed = ", ".join(f"{n} ({v.detail})" for n, v in outcome.checks.items() if not v.passed)
        lines.append(f"### {outcome.case.id} [{outcome.case.category}] — {failed}")
        for turn, answer in zip(outcome.case.turns, outcome.answers, strict=False):
            calls = "".join(f"\n    -> {name}({json.dumps(args, ensure_ascii=False)})"
                            for name, args in answer.tool_calls)
            lines.append(f"  user: {turn}{calls}\n  answer: {answer.text or answer.error or '(nothing)'}")
        lines.append("")
    return "\n".join(lines)


def pass_rate(outcomes: list[Outcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 0.0


def leaks(outcomes: list[Outcome]) -> int:
    return sum(1 for o in outcomes if "no_markup" in o.checks and not o.checks["no_markup"].passed)


# ---- running it ----

def serve(model: str, data_dir: Path, **env: str) -> ParlorServer:
    providers = [{"name": "local", "kind": "local", "model": model, "models_dir": str(MODELS_DIR)}]
    return ParlorServer(data_dir, providers, **env).start(timeout=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help=f"a bundled model (repeatable; default {DEFAULT_MODEL})")
    parser.add_argument("--only", action="append", help="a category or case id (repeatable)")
    parser.add_argument("--runs", type=int, default=1, help="run the set this many times")
    parser.add_argument("--floor", type=float, default=0.0, help="fail below this pass rate (0-1)")
    parser.add_argument("--max-leaks", type=int, default=0, help="fail above this many answers with markup")
    parser.add_argument("--json", type=Path, help="write every answer and verdict here")
    args = parser.parse_args()
    cases = [c for c in load_cases() if not args.only or c.category in args.only or c.id in args.only]
    failed = False
    results: dict[str, list[dict[str, Any]]] = {}
    for model in args.model or [DEFAULT_MODEL]:
        with tempfile.TemporaryDirectory(prefix="parlor-quality-") as tmp:
            server = serve(model, Path(tmp))
            try:
                suite = Suite(server)
                outcomes = []
                for _ in range(args.runs):
                    for case in cases:
                        outcomes.append(suite.run(case))
                        print(f"  {case.id}: {'pass' if outcomes[-1].passed else 'FAIL'}", file=sys.stderr, flush=True)
            finally:
                server.stop()
        print(report(model, outcomes), "", failures(outcomes), sep="\n", flush=True)
        results[model] = [{"case": o.case.id, "passed": o.passed, "checks": {n: asdict(v) for n, v in o.checks.items()},
                           "answers": [asdict(a) for a in o.answers]} for o in outcomes]
        failed |= pass_rate(outcomes) < args.floor or leaks(outcomes) > args.max_leaks
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
