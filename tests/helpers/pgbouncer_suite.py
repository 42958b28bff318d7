"""Every PostgreSQL-backed test file, its databases reached through one real PgBouncer in transaction mode
(tests/helpers/pgbouncer.py), in 3 pytest processes at once, while the cross-talk probe
(tests/helpers/crosstalk.py) runs through the same PgBouncer in rounds of 3 processes: each of its
answers must be its caller's. `parlor migrate` is pointed at PostgreSQL itself (PARLOR_TEST_PG_DIRECT,
tests/pg.py), as a deployment's migrate Job is.

    python -m tests.helpers.pgbouncer_suite [PYTEST ARGS]   # exits 0 when both hold; prints the counts

PYTEST ARGS, when given, replace the list of files (e.g. one file, or a file and `-k NAME`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests import pg
from tests.helpers.pgbouncer import PgBouncer

TESTS = Path(__file__).resolve().parents[1]
PROCESSES = 3  # pytest-xdist workers, and probe processes per round
POOL_SIZE = 6  # server connections, for every client of 3 workers' tests and the probe
PROBE_TASKS, PROBE_QUERIES, PROBE_PAUSE = 3, 60, 5.0  # a round: 540 queries over 9 client connections
# this file runs the suite; the others stand up a PostgreSQL of their own, which no pooler is in front of
NOT_THROUGH_IT = {"test_pgbouncer.py"}
USES_TEST_PG = re.compile(r"\bpg_url\b|fresh_database|from tests import pg\b|from tests\.pg import")


def files() -> list[str]:
    """The test files that reach the tests' PostgreSQL (tests/pg.py), repo-relative."""
    return sorted(f"tests/{path.name}" for path in TESTS.glob("test_*.py")
                  if path.name not in NOT_THROUGH_IT and USES_TEST_PG.search(path.read_text()))


@dataclass
class Outcome:
    returncode: int
    summary: dict[str, int]  # pytest's last line: passed, failed, skipped, error…
    probe: Counter[str] = field(default_factory=Counter)  # total, wrong, errors over every round
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.probe["total"] > 0 and not self.probe["wrong"] \
            and not self.probe["errors"]


def run(pytest_args: tuple[str, ...] = ()) -> Outcome:
    """The suite (every file of files(), or `pytest_args`) through a PgBouncer of its own, probed meanwhile."""
    direct = pg.admin_dsn()
    with PgBouncer(pool_size=POOL_SIZE) as bouncer:
        env = {**os.environ, "PARLOR_TEST_PG": bouncer.url('postgres').replace("+asyncpg", ""),
               "PARLOR_TEST_PG_DIRECT": direct}
        probe: Counter[str] = Counter()
        done = threading.Event()
        prober = threading.Thread(target=_probe_until, args=(bouncer.url("test"), done, probe), daemon=True)
        prober.start()
        try:
            suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n",
                                    str(PROCESSES), "--dist", "loadfile", *(pytest_args or files())],
                                   env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=1800)
        finally:
            done.set()
            prober.join()
    return Outcome(suite.returncode, _summary(suite.stdout), probe, suite.stdout + suite.stderr[-2000:])


def _probe_until(url: str, done: threading.Event, tally: Counter[str]) -> None:
    """Rounds of the probe (PROCESSES at once), a pause between, until the suite has ended."""
    while not done.is_set():
        rounds = [subprocess.Popen([sys.executable, "-m", "tests.helpers.crosstalk", url, f"s{i}",
                                    str(PROBE_TASKS), str(PROBE_QUERIES)], stdout=subprocess.PIPE, text=True,
                                   cwd=TESTS.parent) for i in range(PROCESSES)]
        for process in rounds:
            out = process.communicate(timeout=600)[0]
            if process.returncode != 0 or not out.strip():
                tally["errors"] += 1  # a probe that could not run fails the run: it proved nothing
                continue
            counts = json.loads(out)
            tally.update({k: int(counts[k]) for k in ("total", "wrong", "errors")})
        tally["rounds"] += 1
        done.wait(PROBE_PAUSE)


def _summary(stdout: str) -> dict[str, int]:
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", last)}


def main() -> None:
    args = tuple(sys.argv[1:])
    outcome = run(args)
    if not outcome.ok:
        print(outcome.output)
    print(f"through PgBouncer (transaction mode, {POOL_SIZE} server connections), {PROCESSES} processes, "
          f"{' '.join(args) or f'{len(files())} files'}: {outcome.summary}; probe: {dict(outcome.probe)}")
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
