"""A load test that behaves like users, against Parlor in distributed mode.

N users, each with its own API key and threads (some long, with history seeded before the run; new ones
opened as it goes), send a message, read the whole stream, think, and send the next. A control group of
users does the same straight against the upstream, in the same run, so Parlor's first-token overhead is a
measured difference. Parlor runs as `parlor serve --workers 2` on a fresh PostgreSQL database and Redis
(a key prefix of its own); the scripted upstream streams at a realistic pace. Afterwards the database is
checked: every completed turn's user and assistant messages stored exactly once.

    python bench/load.py --users 100,1000 --duration 60
    python bench/load.py --users 1000 --peers relay,litellm   # the same load on the peers (bench/peers/)

Not part of `make test`: it prints figures (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers import start_peer
from bench.stack import Database, Parlor, Sampler, start_upstream, stop
from bench.users import Held, Results, Schedule, UserPlan, hold_process, run_process
from parlor.accounts import AccountStore
from parlor.db import Message, Thread, create_engine, new_id, session_factory, utcnow


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def seed_users(url: str, count: int, long_threads: int, history: int) -> list[tuple[str, tuple[str, ...]]]:
    """`count` users with an API key each and `long_threads` threads of `history` messages each."""
    engine = create_engine(url, pool_size=2)
    accounts, made = AccountStore(session_factory(engine)), []
    run = secrets.token_hex(3)
    try:
        for i in range(count):
            user = await accounts.create_user(f"load-{run}-{i}", "pro")
            made.append((user.principal.id, user.api_key, tuple(new_id() for _ in range(long_threads))))
        start = utcnow() - timedelta(days=1)
        threads = [{"id": t, "user_id": uid, "title": "history", "created_at": start, "updated_at": start, "meta": {}}
                   for uid, _, ts in made for t in ts]
        messages = [{"id": new_id(), "thread_id": t["id"], "role": "user" if k % 2 == 0 else "assistant",
                     "client_id": new_id() if k % 2 == 0 else None, "parts": [], "status": "complete",
                     "text": f"Earlier message {k}: " + "some words of a long conversation " * 6,
                     "created_at": start + timedelta(seconds=k)} for t in threads for k in range(history)]
        async with engine.begin() as connection:
            if threads:
                await connection.execute(insert(Thread), threads)
            for i in range(0, len(messages), 5000):
                await connection.execute(insert(Message), messages[i:i + 5000])
    finally:
        await engine.dispose()
    return [(key, ts) for _, key, ts in made]


async def check_stored(url: str, results: Results) -> dict[str, int]:
    """Each completed turn: one user message (by its client id) and one complete assistant answer."""
    engine = create_engine(url, pool_size=2)
    done = {client: request for _, client, request in results.done}
    try:
        async with engine.connect() as connection:
            users = dict((await connection.execute(
                select(Message.client_id, func.count()).where(Message.client_id.in_(list(done)))
                .group_by(Message.client_id))).all())
            requests = [r for r in done.values() if r]
            answers = dict((await connection.execute(
                select(Message.request_id, func.count()).where(
                    Message.request_id.in_(requests), Message.role == "assistant", Message.status == "complete")
                .group_by(Message.request_id))).all()) if requests else {}
    finally:
        await engine.dispose()
    return {"turns checked": len(done),
            "user message missing": sum(1 for c in done if users.get(c, 0) == 0),
            "user message duplicated": sum(1 for c in done if users.get(c, 0) > 1),
            "answer missing": sum(1 for r in done.values() if answers.get(r, 0) == 0),
            "answer duplicated": sum(1 for r in done.values() if answers.get(r, 0) > 1)}


def settled(url: str, results: Results, seconds: float = 60) -> dict[str, int]:
    """The storage check, repeated while answers are still being written: under overload a turn's stream
    may end before its answer is stored (the write goes on, retrying, in the background)."""
    deadline, late = time.monotonic() + seconds, 0
    while True:
        stored = asyncio.run(check_stored(url, results))
        late = late or stored["answer missing"]
        if not stored["answer missing"] or time.monotonic() > deadline:
            return {**stored, "answers stored after their stream ended": late - stored["answer missing"]}
        time.sleep(2)


def drive(plans: list[UserPlan], schedule: Schedule, processes: int) -> dict[str, Results]:
    """Runs the users in `processes` generator processes; merges their results by kind."""
    slices = [plans[i::processes] for i in range(processes)]
    merged: dict[str, Results] = {}
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(run_process, part, schedule, seed) for seed, part in enumerate(slices) if part]
        for future in futures:
            for kind, result in future.result().items():
                merged.setdefault(kind, Results(kind)).merge(result)
    return merged


def report(label: str, users: int, results: dict[str, Results], target: str, sampler: Sampler,
           window: float) -> None:
    ours, control = results.get(target, Results(target)), results.get("upstream", Results("upstream"))
    print(f"\n== {label}: {users} users ({len(control.attempted) and 'with'} control group), "
          f"{window:.0f} s measured ==")
    for result in (control, ours):
        ms = [v * 1000 for v in result.ttft]
        print(f"{result.kind:<9} turns {result.turns:6d}  errors {sum(result.errors.values()):4d} "
              f"{dict(result.errors) or ''}  TTFT p50 {percentile(ms, 50):7.1f}  p95 {percentile(ms, 95):7.1f}  "
              f"p99 {percentile(ms, 99):7.1f} ms  (n={len(ms)})")
    overhead = [percentile(ours.ttft, q) * 1000 - percentile(control.ttft, q) * 1000 for q in (50, 95, 99)]
    print(f"overhead  p50 {overhead[0]:7.1f}  p95 {overhead[1]:7.1f}  p99 {overhead[2]:7.1f} ms")
    print(f"tokens/s delivered by {target}: {ours.tokens / window:,.0f}")
    for name in sampler.peak_rss:
        print(f"cpu {name:<9} {sampler.cores(name):5.2f} cores   peak RSS {sampler.peak_rss[name] / 2**20:7.0f} MiB")
    if ours.turns:  # less sensitive to a shared machine than latency: what one turn costs the server
        print(f"{target} CPU per turn: {sampler.cores(target) * sampler.elapsed / ours.turns * 1000:.1f} ms")
    print(f"machine cpu {sampler.machine_cpu:5.2f} of {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def plans_for(kind: str, url: str, keys: list[tuple[str, tuple[str, ...]]], users: int,
              upstream_url: str, control: int, args: argparse.Namespace) -> list[UserPlan]:
    """The users, then the control group: long threads too, their prompts the size of Parlor's."""
    main = [UserPlan(kind, url, *keys[i]) for i in range(users)]
    threads = tuple(f"control-{k}" for k in range(args.long_threads))
    direct = [UserPlan("upstream", upstream_url, threads=threads, history=args.history) for _ in range(control)]
    return main + direct


def schedule_for(args: argparse.Namespace) -> Schedule:
    now = time.time() + 3  # the generator processes start meanwhile
    return Schedule(start_at=now, ramp=args.ramp, measure_from=now + args.ramp, stop_at=now + args.ramp + args.duration,
                    think=(args.think_min, args.think_max), new_thread_share=args.new_threads)


def profile(parlor: Parlor, directory: Path, users: int, schedule: Schedule) -> list[subprocess.Popen[bytes]]:
    """py-spy on each server worker through the measured window: collapsed stacks, one file per worker."""
    directory.mkdir(parents=True, exist_ok=True)
    workers = psutil.Process(parlor.process.pid).children(recursive=True)  # type: ignore[union-attr]
    seconds = int(schedule.stop_at - schedule.measure_from)
    delay = max(0.0, schedule.measure_from - time.time())
    spy = Path(sys.executable).parent / "py-spy"
    return [subprocess.Popen(["sh", "-c", f"sleep {delay:.1f}; exec {spy} record --nonblocking --format raw -r 50 "
                              f"-d {seconds} -p {w.pid} -o {directory}/parlor-{users}u-{w.pid}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for w in workers]


def run_load(args: argparse.Namespace) -> None:
    upstream, upstream_url = start_upstream(args.ttft, args.token_delay, args.tokens)
    database = Database().create()
    parlor = Parlor(database.url, upstream_url, workers=args.workers)
    peers: list[tuple[str, object]] = []
    try:
        parlor.migrate()
        keys = asyncio.run(seed_users(database.url, max(args.users), args.long_threads, args.history))
        parlor.start()
        print(f"upstream: {args.ttft * 1000:.0f} ms to first token, {args.tokens} tokens {args.token_delay * 1000:.0f}"
              f" ms apart; think {args.think_min}-{args.think_max} s; {args.new_threads:.0%} of turns open a new "
              f"thread, the rest continue a thread of {args.history}+ messages; parlor: {args.workers} workers, "
              f"PostgreSQL + Redis; {args.processes} generator processes")
        for users in args.users:
            control = max(10, users // 10)
            schedule = schedule_for(args)
            roots = {"parlor": parlor.process.pid, "upstream": upstream.pid}  # type: ignore[union-attr]
            profilers = profile(parlor, args.profile, users, schedule) if args.profile else []
            with Sampler(roots) as sampler:
                results = drive(plans_for("parlor", parlor.url, keys, users, upstream_url, control, args), schedule,
                                args.processes)
            for profiler in profilers:
                profiler.wait()
            report("parlor", users, results, "parlor", sampler, args.duration + args.ramp)
            print("stored exactly once:", settled(database.url, results["parlor"]))
            for name in args.peers:
                process, url, key = start_peer(name, upstream_url, args.workers)
                peers.append((name, process))
                peer_keys = [(key, ())] * users if key else keys
                with Sampler({name: process.pid, "upstream": upstream.pid}) as sampler:
                    results = drive(plans_for(name, url, peer_keys, users, upstream_url, control, args),
                                    schedule_for(args), args.processes)
                report(name, users, results, name, sampler, args.duration + args.ramp)
                stop(process)  # type: ignore[arg-type]
    finally:
        for _, process in peers:
            stop(process)  # type: ignore[arg-type]
        parlor.stop()
        stop(upstream)
        if not args.keep_database:
            database.drop()


def hold(plans: list[UserPlan], ramp: float, processes: int) -> Held:
    """Opens every stream (spread over `ramp` seconds) and holds it to its end."""
    begin = time.time() + 3
    starts = [begin + ramp * i / len(plans) for i in range(len(plans))]
    held = Held()
    with ProcessPoolExecutor(processes) as pool:
        for future in [pool.submit(hold_process, plans[i::processes], starts[i::processes]) for i in range(processes)]:
            held.merge(future.result())
    return held


def report_hold(name: str, wanted: int, held: Held, sampler: Sampler) -> None:
    print(f"{name:<9} streams opened {wanted}, held to the end {len(held.spans)}, most open at once "
          f"{held.peak()}, errors {dict(held.errors) or 0}; cpu {sampler.cores(name):.2f} cores, "
          f"peak RSS {sampler.peak_rss[name] / 2**20:.0f} MiB")


def run_hold(args: argparse.Namespace) -> None:
    """`--hold N`: N streams open at once (a slow upstream keeps each open ~`--hold-seconds`)."""
    tokens = 30
    upstream, upstream_url = start_upstream(args.ttft, args.hold_seconds / tokens, tokens)
    database = Database().create()
    parlor = Parlor(database.url, upstream_url, workers=args.workers)
    try:
        parlor.migrate()
        keys = asyncio.run(seed_users(database.url, max(1, args.hold // 4), 0, 0))  # 4 threads per user
        parlor.start()
        print(f"{args.hold} streams opened over {args.ramp:.0f} s, each ~{args.hold_seconds:.0f} s long; "
              f"{args.workers} workers each; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        plans = [UserPlan("parlor", parlor.url, keys[i % len(keys)][0]) for i in range(args.hold)]
        with Sampler({"parlor": parlor.process.pid}) as sampler:  # type: ignore[union-attr]
            held = hold(plans, args.ramp, args.processes)
        report_hold("parlor", args.hold, held, sampler)
        for name in args.peers:
            process, url, key = start_peer(name, upstream_url, args.workers)
            try:
                with Sampler({name: process.pid}) as sampler:
                    held = hold([UserPlan(name, url, key) for _ in range(args.hold)], args.ramp, args.processes)
                report_hold(name, args.hold, held, sampler)
            finally:
                stop(process)
    finally:
        parlor.stop()
        stop(upstream)
        database.drop()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (servers, database) when stopped
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--users", type=ints, default=[100, 1000], help="user counts, run one after the other")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds after the ramp")
    parser.add_argument("--ramp", type=float, default=20, help="users start spread over this many seconds")
    parser.add_argument("--think-min", type=float, default=3.0)
    parser.add_argument("--think-max", type=float, default=8.0)
    parser.add_argument("--new-threads", type=float, default=0.3, help="share of turns that open a new thread")
    parser.add_argument("--long-threads", type=int, default=2, help="seeded threads per user")
    parser.add_argument("--history", type=int, default=40, help="messages in each seeded thread")
    parser.add_argument("--ttft", type=float, default=0.3)
    parser.add_argument("--token-delay", type=float, default=0.03)
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2, help="parlor serve --workers")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--peers", type=lambda s: [x for x in s.split(",") if x], default=[],
                        help="also run the same load on these: relay, litellm")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy each server worker into this folder (collapsed stacks)")
    parser.add_argument("--hold", type=int, help="instead of users: open this many streams at once and hold them")
    parser.add_argument("--hold-seconds", type=float, default=30, help="how long each held stream lasts")
    args = parser.parse_args()
    run_hold(args) if args.hold else run_load(args)


if __name__ == "__main__":
    main()
