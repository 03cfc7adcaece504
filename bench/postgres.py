"""PostgreSQL benchmark: Baton's claims and task lifecycles against the raw SKIP LOCKED
limit, and the hand-off latency from one task's completion to its dependent's claim.

Run by ``make bench`` (a few minutes) or ``make bench-quick`` (under a minute)::

    .venv/bin/python bench/postgres.py [--quick] [--json] [--reps N]

The server: ``BATON_BENCH_PG`` (or ``BATON_TEST_PG``), a URL of a database on a server
where the user may create databases; otherwise a throwaway cluster is started with
scripts/pgtest.py's own functions (127.0.0.1, ``fsync=off``: a test cluster) and
removed afterwards. The settings the server really ran with are read back and reported.

What it measures, all in the same run so that the ratios compare like with like:

(a) Baton ``claim``s per second with 1, 4 and 16 worker *processes* on a flat board of
    ready tasks (claim only), and lifecycles per second (claim + submit; no reviewer,
    no gate, no contract; chains of ``CHAIN_LEN``, so a completion releases its
    dependent in the same transaction).
(b) The raw limit: the same claim and lifecycle as hand-written psycopg SQL with no
    Baton code (bench/_pg_sides.py): one autocommitted ``UPDATE … WHERE id = (SELECT …
    FOR UPDATE SKIP LOCKED) RETURNING`` per claim and one autocommitted data-modifying
    CTE per completion. Also "raw + events": the same with Baton's event log written by
    hand (gap-free seqs from a locked counter row, event rows, ``pg_notify``) in explicit
    transactions, statement by statement as PostgresStore does, to split the gap into
    what the log costs and what the rest costs; and "raw + events, tail with COMMIT":
    the same log with its tail as one statement pipelined with the COMMIT, so that the
    counter lock is never held across a round trip (a fix Baton could adopt).
(c) Their ratios, paired per repetition (Baton and raw run back to back).
(d) Hand-off latency: a task ``A`` is completed by one process while another, idle,
    serves only the role of its dependent ``B``; from ``submit(A)`` returning to
    ``claim`` returning ``B`` in the idle process (its loop is ``Worker``'s idle loop:
    claim, nothing, reap, wait for the next commit — woken by ``LISTEN/NOTIFY``). Also
    reported: the same from the moment ``submit(A)`` was called (an upper bound), and
    with the real ``Worker`` up to its agent starting (claim + building the context).
(e) The path users run (bench/_worker_path.py): the documented ``Worker`` with a no-op
    agent, one process, beside the bare claim + submit loop in one process, on runs of
    500 / 5,000 / 50,000 independent tasks (50,000 in the full run only), and one
    watchdog pass timed alone. Each drains the last ``WORKER_TAIL`` tasks of its run: the
    whole run up to 5,000; of a 50,000-task run, the first 45,000 are done beforehand by
    4 loop processes (then ``VACUUM ANALYZE``, as autovacuum would), so the rate is
    that of a run's last 5,000 tasks with 45,000 finished ones (and their events)
    behind them, and a drain takes seconds rather than minutes. Reported under
    ``worker_path``.

Every process of a measurement starts at the same instant (a shared monotonic start
time) after opening its connections; throughput is work / (last finish - first start).
The worker processes are started once and reused for every measurement. Each
throughput figure is the median of ``--reps`` runs, each on a fresh database cloned
from a prepared template (``CREATE DATABASE … TEMPLATE``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import _pg_sides as sides
import _worker_path as wp
import psycopg
from rich.console import Console
from rich.table import Table

from baton.board import Board
from baton.model.limits import DEFAULT_LIMITS

ROOT = Path(__file__).resolve().parents[1]
DATE = "2026-11-22"
CHAIN_LEN = 10
WORKER_COUNTS = (1, 4, 16)
LIFE_KINDS = ("baton_life", "raw_life", "raw_events_life", "raw_events_tail_life")
CLAIM_KINDS = ("baton_claim", "raw_claim")
TARGET_RATIO_16W = 0.5  # of the raw limit, lifecycles with 16 workers
TARGET_HANDOFF_P50_MS = 10.0

err = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class Config:
    quick: bool
    reps: int
    deadline_s: float  # each throughput measurement runs this long (or until empty)
    baton_tasks: int  # tasks on each Baton board (more than the fastest run takes)
    raw_tasks: int
    handoff_pairs: int
    worker_runs: tuple[tuple[str, int, int], ...]  # worker path: (shape, run size, reps)

    @classmethod
    def make(cls, quick: bool, reps: int | None) -> Config:
        if quick:
            worker = (("flat", 500, 3), ("flat", 5_000, 1))
            return cls(True, reps or 1, 0.8, 4_000, 16_000, 40, worker)
        # Chains are measured on SQLite (bench/board.py); here they would not fit the time.
        worker = (("flat", 500, 3), ("flat", 5_000, 1), ("flat", 50_000, 1))
        return cls(False, reps or 3, 3.0, 16_000, 60_000, 200, worker)


# --- the server -------------------------------------------------------------------------


def _pgtest() -> Any:
    spec = importlib.util.spec_from_file_location("pgtest", ROOT / "scripts" / "pgtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    """The server to measure on: given, or a throwaway one."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get("BATON_BENCH_PG") or os.environ.get("BATON_TEST_PG", "")
        self.own: tuple[Any, Path, dict[str, str], Path] | None = None
        self.made: list[str] = []

    def __enter__(self) -> Server:
        if not self.admin_url:
            pgtest = _pgtest()
            bindir = pgtest.pg_bin() or pgtest.install()
            if bindir is None:
                raise SystemExit("no PostgreSQL here: set BATON_BENCH_PG to a server URL")
            url, env, root = pgtest.start(bindir)
            self.own = (pgtest, bindir, env, root)
            self.admin_url = url
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.made:
            self.drop(name)
        if self.own is not None:
            pgtest, bindir, env, root = self.own
            pgtest.stop(bindir, env, root)

    def url(self, db: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{db}"))

    def create(self, template: str | None = None) -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if name in self.made:
            self.made.remove(name)

    def settings(self) -> dict[str, str]:
        names = (
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "wal_level",
            "shared_buffers",
            "max_connections",
            "jit",
        )
        with psycopg.connect(self.admin_url) as conn:
            return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


# --- boards -----------------------------------------------------------------------------


def chain_plan(n: int, chain_len: int) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        t: dict[str, Any] = {"id": f"t{i}", "role": sides.ROLE, "title": f"task {i}"}
        if chain_len > 1 and i % chain_len:
            t["depends_on"] = [f"t{i - 1}"]
        tasks.append(t)
    return {"goal": "benchmark", "roles": [sides.ROLE], "tasks": tasks}


def handoff_plan(pairs: int) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    for i in range(pairs):
        tasks.append({"id": f"a{i:04d}", "role": "first"})
        tasks.append({"id": f"b{i:04d}", "role": "second", "depends_on": [f"a{i:04d}"]})
    return {"goal": "hand-off", "roles": ["first", "second"], "tasks": tasks}


def baton_board(url: str, plan: dict[str, Any]) -> tuple[str, float]:
    """Put ``plan`` on the board at ``url``; (run id, seconds ``create_run`` took). Plans
    over Baton's default ``max_tasks`` are allowed (the limit is raised to fit)."""
    limits = replace(DEFAULT_LIMITS, max_tasks=max(DEFAULT_LIMITS.max_tasks, len(plan["tasks"])))

    async def go() -> tuple[str, float]:
        board = Board.open(url, limits=limits)
        try:
            start = time.perf_counter()
            run = await board.create_run(plan, actor="bench")
            return run.id, time.perf_counter() - start
        finally:
            await board.close()

    return asyncio.run(go())


@dataclass(frozen=True)
class Template:
    db: str
    run_id: str
    tasks: int


def templates(server: Server, cfg: Config) -> dict[str, Template]:
    """One prepared database per board kind; each measurement clones one."""
    out: dict[str, Template] = {}
    for kind, chain in (("baton_life", CHAIN_LEN), ("baton_claim", 1)):
        db = server.create()
        run_id, took = baton_board(server.url(db), chain_plan(cfg.baton_tasks, chain))
        with psycopg.connect(server.url(db), autocommit=True) as conn:
            conn.execute("ANALYZE")
        err.print(f"  prepared {kind}: create_run of {cfg.baton_tasks:,} tasks in {took:.1f}s")
        out[kind] = Template(db, run_id, cfg.baton_tasks)
    for kind, chain in (("raw_life", CHAIN_LEN), ("raw_claim", 1)):
        db = server.create()
        sides.raw_populate(server.url(db), cfg.raw_tasks, chain)
        out[kind] = Template(db, "", cfg.raw_tasks)
    out["raw_events_life"] = out["raw_events_tail_life"] = out["raw_life"]
    return out


# --- worker processes -------------------------------------------------------------------


class Crew:
    """``size`` long-lived processes that run measurement jobs (bench/_pg_sides.py)."""

    def __init__(self, size: int) -> None:
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(size)]
        self.procs = [ctx.Process(target=sides.crew_main, args=(q, self.out)) for q in self.inboxes]
        for p in self.procs:
            p.start()

    def run(self, jobs: list[sides.Job], timeout_s: float) -> list[sides.Result]:
        for inbox, job in zip(self.inboxes, jobs, strict=False):
            inbox.put(job)
        results, errors = [], []
        deadline = time.monotonic() + timeout_s
        while len(results) + len(errors) < len(jobs):
            try:
                item = self.out.get(timeout=1.0)
            except queue.Empty:
                dead = [p.exitcode for p in self.procs if not p.is_alive()]
                if time.monotonic() > deadline or (dead and self.out.empty()):
                    raise RuntimeError(f"no answer from the crew (dead: {dead})") from None
                continue
            (results if isinstance(item, sides.Result) else errors).append(item)
        if errors:
            raise RuntimeError("a benchmark process failed:\n" + "\n".join(map(str, errors)))
        return results

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():  # only ever our own children
                p.kill()
                p.join()


@dataclass(frozen=True)
class Sample:
    kind: str
    workers: int
    count: int
    wall_s: float
    idle_polls: int
    exhausted: bool

    @property
    def rate(self) -> float:
        return self.count / self.wall_s


def measure(
    kind: str, workers: int, cfg: Config, server: Server, tpl: Template, crew: Crew
) -> Sample:
    db = server.create(template=tpl.db)
    url = server.url(db)
    try:
        start_at = time.monotonic() + 0.4 + 0.03 * workers  # everyone connected by then
        jobs = [
            sides.Job(kind, url, f"w{i}", start_at, cfg.deadline_s, tpl.run_id)
            for i in range(workers)
        ]
        results = crew.run(jobs, timeout_s=cfg.deadline_s + 120)
        late = [r.name for r in results if r.started > start_at + 0.05]
        if late:
            err.print(f"  [yellow]note: {late} started late (connecting took long)[/]")
        count = sum(r.count for r in results)
        _check(kind, url, tpl, count)
        wall = max(r.finished for r in results) - min(r.started for r in results)
        return Sample(
            kind,
            workers,
            count,
            wall,
            sum(r.idle_polls for r in results),
            any(r.exhausted for r in results),
        )
    finally:
        server.drop(db)


def _check(kind: str, url: str, tpl: Template, count: int) -> None:
    """Nothing lost or doubled: the board agrees with what the workers counted."""
    if kind.startswith("raw"):
        states = sides.raw_count(url)
    else:

        async def go() -> dict[str, int]:
            board = Board.open(url)
            try:
                return await board.store.count_by_state(tpl.run_id)
            finally:
                await board.close()

        states = asyncio.run(go())
    counted = states.get("running", 0) if kind.endswith("claim") else states.get("done", 0)
    if counted != count or (kind.endswith("life") and states.get("running", 0)):
        raise RuntimeError(f"{kind}: workers counted {count}, the board says {states}")


# --- hand-off ---------------------------------------------------------------------------


def handoff(cfg: Config, server: Server, crew: Crew, kind: str) -> dict[str, list[float]]:
    """Completion of ``a_i`` (this process) -> claim of ``b_i`` (an idle crew process)."""
    db = server.create()
    url = server.url(db)
    try:
        run_id, _ = baton_board(url, handoff_plan(cfg.handoff_pairs))
        job = sides.Job(kind, url, "idle", 0.0, 120.0, run_id, {"pairs": cfg.handoff_pairs})
        crew.inboxes[0].put(job)
        t0_start, t0_end = asyncio.run(_complete_firsts(url, run_id, cfg.handoff_pairs))
        item = crew.out.get(timeout=180)
        if not isinstance(item, sides.Result):
            raise RuntimeError(f"hand-off process failed: {item}")
        t1 = item.extra["t1"]
        keys = sorted(t0_end)
        missing = [k for k in keys if f"b{k[1:]}" not in t1]
        if missing:
            raise RuntimeError(f"hand-off: {len(missing)} dependents never claimed")
        return {
            "from_return": [t1[f"b{k[1:]}"] - t0_end[k] for k in keys],
            "from_call": [t1[f"b{k[1:]}"] - t0_start[k] for k in keys],
        }
    finally:
        server.drop(db)


async def _complete_firsts(
    url: str, run_id: str, pairs: int
) -> tuple[dict[str, float], dict[str, float]]:
    board = Board.open(url)
    rng = random.Random(7)
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    try:
        await board.get_run(run_id)
        for _ in range(pairs):
            lease = await board.claim("completer", ["first"], run_id=run_id)
            assert lease is not None
            # The work; meanwhile the idle process, woken by this claim's commit, finds
            # nothing to claim and goes back to waiting.
            await asyncio.sleep(rng.uniform(0.015, 0.03))
            started[lease.task.key] = time.monotonic()
            await board.submit(lease.task.id, lease.token, sides.OUTPUT, participant="completer")
            ended[lease.task.key] = time.monotonic()
    finally:
        await board.close()
    return started, ended


# --- the worker path -------------------------------------------------------------------

WORKER_SHAPES = {s.name: s for s in (wp.FLAT, wp.Shape("chains", CHAIN_LEN))}
# The Worker without its watchdog is measured on SQLite only (bench/board.py): here a
# drain takes ~10x longer and the section must stay within a few minutes; the watchdog
# pass timed alone tells the two costs apart instead.
WORKER_KINDS = (wp.WORKER, wp.LOOP)
WORKER_TAIL = 5_000  # a drain does a run's last this many tasks (all of a smaller run)
PREFILL_WORKERS = 4
WORKER_DEADLINE_S = 600.0  # a drain ends with its run; this only guards against a hang


def _worker_template(
    server: Server, crew: Crew, shape: wp.Shape, size: int
) -> tuple[Template, float]:
    """A run of ``size`` tasks with all but its last ``WORKER_TAIL`` done (by the loop);
    also the seconds its ``create_run`` took."""
    db = server.create()
    url = server.url(db)
    run_id, took = baton_board(url, wp.plan(size, shape))
    prefill = size - min(size, WORKER_TAIL)
    if prefill:
        start_at = time.monotonic() + 0.5
        share = [
            prefill // PREFILL_WORKERS + (i < prefill % PREFILL_WORKERS)
            for i in range(PREFILL_WORKERS)
        ]
        jobs = [
            sides.Job("baton_life", url, f"p{i}", start_at, WORKER_DEADLINE_S, run_id, {"limit": n})
            for i, n in enumerate(share)
        ]
        began = time.monotonic()
        crew.run(jobs, timeout_s=WORKER_DEADLINE_S + 60)
        states = _states(url, run_id)
        if states.get("done", 0) != prefill or states.get("running", 0):
            raise RuntimeError(f"prefilling {size:,}: wanted {prefill:,} done, board {states}")
        took_fill = time.monotonic() - began
        err.print(f"  prefilled: {prefill:,} of {size:,} done by the loop in {took_fill:.1f}s")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE" if prefill else "ANALYZE")
    err.print(f"  prepared worker path {shape.name} {size:,}: create_run in {took:.1f}s")
    return Template(db, run_id, size), took


def _states(url: str, run_id: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        board = Board.open(url)
        try:
            return await board.store.count_by_state(run_id)
        finally:
            await board.close()

    return asyncio.run(go())


def _worker_drain(
    kind: str, shape: wp.Shape, tpl: Template, create_s: float, server: Server, crew: Crew
) -> wp.Sample:
    """Clone the prepared run; one process (Worker, or the bare loop) drains it to the end."""
    db = server.create(template=tpl.db)
    url = server.url(db)
    try:
        job_kind = "baton_life" if kind == wp.LOOP else "worker_path"
        extra = {"watchdog": kind != wp.BARE}
        start_at = time.monotonic() + 0.4
        job = sides.Job(job_kind, url, "w1", start_at, WORKER_DEADLINE_S, tpl.run_id, extra)
        (r,) = crew.run([job], timeout_s=WORKER_DEADLINE_S + 60)
        states = _states(url, tpl.run_id)
        measured = min(tpl.tasks, WORKER_TAIL)
        if r.count != measured or states.get("done", 0) != tpl.tasks:
            what = f"{kind} {shape.name} {tpl.tasks:,}"
            raise RuntimeError(f"{what}: did {r.count:,} of {measured:,}, board {states}")
        return wp.Sample(kind, shape.name, tpl.tasks, r.count, r.finished - r.started, create_s)
    finally:
        server.drop(db)


def _watchdog_pass(server: Server, tpl: Template) -> float:
    """One watchdog pass, alone, on a clone of the prepared run."""
    db = server.create(template=tpl.db)
    try:

        async def go() -> float:
            board = Board.open(server.url(db))
            try:
                return await wp.watchdog_pass_s(board, tpl.run_id)
            finally:
                await board.close()

        return asyncio.run(go())
    finally:
        server.drop(db)


def worker_path(cfg: Config, server: Server, crew: Crew) -> dict[str, Any]:
    """(e): Worker and loop back to back on clones of the same prepared run (the order
    alternating between repetitions); and one watchdog pass on another clone."""
    samples: list[wp.Sample] = []
    passes: dict[tuple[str, int], float] = {}
    for name, size, reps in cfg.worker_runs:
        shape = WORKER_SHAPES[name]
        tpl, create_s = _worker_template(server, crew, shape, size)
        try:
            passes[(name, size)] = took = _watchdog_pass(server, tpl)
            err.print(f"  watchdog pass, {name:6} {size:>6,} tasks: {took * 1e3:,.0f} ms")
            for rep in range(reps):
                for kind in wp.order(WORKER_KINDS, rep):
                    s = _worker_drain(kind, shape, tpl, create_s, server, crew)
                    err.print(
                        f"  [{rep + 1}/{reps}] {kind:6} {name:6} {size:>6,} tasks: "
                        f"{s.rate:8,.0f} tasks/s ({s.tasks:,} in {s.wall_s:.2f}s)"
                    )
                    samples.append(s)
        finally:
            server.drop(tpl.db)
    reps_by_size: dict[int, int] = {}
    for _name, size, reps in cfg.worker_runs:
        reps_by_size[size] = max(reps, reps_by_size.get(size, 0))
    shapes = [WORKER_SHAPES[n] for n in dict.fromkeys(n for n, _s, _r in cfg.worker_runs)]
    return wp.summarise(
        samples,
        shapes,
        passes,
        reps_by_size,
        f"each drain on a clone of a prepared run (CREATE DATABASE ... TEMPLATE); a drain "
        f"does the run's last min(size, {WORKER_TAIL:,}) tasks: runs larger than that had "
        f"the rest done beforehand by {PREFILL_WORKERS} loop processes, then VACUUM ANALYZE",
    )


def _pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- report -----------------------------------------------------------------------------


def summarise(samples: list[Sample]) -> dict[str, Any]:
    by: dict[tuple[str, int], list[Sample]] = {}
    for s in samples:
        by.setdefault((s.kind, s.workers), []).append(s)

    def med(kind: str, w: int) -> float:
        return statistics.median(s.rate for s in by[(kind, w)])

    def ratio(a: str, b: str, w: int) -> float:
        pairs = zip(by[(a, w)], by[(b, w)], strict=True)
        return statistics.median(x.rate / y.rate for x, y in pairs)

    out: dict[str, Any] = {}
    for w in WORKER_COUNTS:
        out[f"lifecycles_per_s_{w}w"] = med("baton_life", w)
        out[f"raw_lifecycles_per_s_{w}w"] = med("raw_life", w)
        out[f"raw_events_lifecycles_per_s_{w}w"] = med("raw_events_life", w)
        out[f"raw_events_tail_lifecycles_per_s_{w}w"] = med("raw_events_tail_life", w)
        out[f"ratio_to_raw_{w}w"] = ratio("baton_life", "raw_life", w)
        out[f"ratio_to_raw_events_{w}w"] = ratio("baton_life", "raw_events_life", w)
        out[f"claims_per_s_{w}w"] = med("baton_claim", w)
        out[f"raw_claims_per_s_{w}w"] = med("raw_claim", w)
        out[f"claims_ratio_to_raw_{w}w"] = ratio("baton_claim", "raw_claim", w)
    out["samples_per_s"] = {
        f"{k}_{w}w": [round(s.rate) for s in v] for (k, w), v in sorted(by.items())
    }
    out["exhausted"] = sorted(
        {f"{k}_{w}w" for (k, w), v in by.items() if any(s.exhausted for s in v)}
    )
    return out


def table(r: dict[str, Any], cfg: Config) -> Table:
    stat = f"median of {cfg.reps} runs" if cfg.reps > 1 else "1 run each"
    t = Table(title=f"Baton on PostgreSQL, {'quick' if cfg.quick else 'full'} ({stat})")
    t.add_column("measure")
    for w in WORKER_COUNTS:
        t.add_column(f"{w} worker{'s' if w > 1 else ''}", justify="right")
    t.add_column("target / verdict")

    def row(label: str, key: str, fmt: str = "{:,.0f}", verdict: str = "") -> None:
        t.add_row(label, *(fmt.format(r[f"{key}_{w}w"]) for w in WORKER_COUNTS), verdict)

    ok = r["pass"]
    row("Baton lifecycles/s", "lifecycles_per_s")
    row("raw SKIP LOCKED lifecycles/s", "raw_lifecycles_per_s")
    row("raw + event log lifecycles/s", "raw_events_lifecycles_per_s")
    row("raw + event log, tail with COMMIT", "raw_events_tail_lifecycles_per_s")
    row(
        "Baton / raw",
        "ratio_to_raw",
        "{:.2f}",
        f">= {TARGET_RATIO_16W} at 16w: "
        + ("[green]PASS[/]" if ok["ratio_to_raw_16w"] else "[red]FALL SHORT[/]"),
    )
    row("Baton / (raw + event log)", "ratio_to_raw_events", "{:.2f}")
    row("Baton claims/s", "claims_per_s")
    row("raw claims/s", "raw_claims_per_s")
    row("Baton / raw, claims", "claims_ratio_to_raw", "{:.2f}")
    verdict = "[green]PASS[/]" if ok["handoff_p50_ms"] else "[red]FALL SHORT[/]"
    t.add_row(
        "hand-off p50 / p99 (ms)",
        f"{r['handoff_p50_ms']:.2f} / {r['handoff_p99_ms']:.2f}",
        "",
        "",
        f"p50 < {TARGET_HANDOFF_P50_MS:.0f} ms: {verdict}",
    )
    t.add_row(
        "  from the submit call (upper bound)",
        f"{r['handoff_from_call_p50_ms']:.2f} / {r['handoff_from_call_p99_ms']:.2f}",
        "",
        "",
        "",
    )
    t.add_row(
        "  real Worker, to agent start",
        f"{r['handoff_worker_p50_ms']:.2f} / {r['handoff_worker_p99_ms']:.2f}",
        "",
        "",
        "",
    )
    return t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (the table goes to stderr)"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement")
    args = parser.parse_args(argv)
    cfg = Config.make(args.quick, args.reps)
    began = time.monotonic()
    load_before = os.getloadavg()
    crew = Crew(max(WORKER_COUNTS))
    try:
        with Server() as server:
            settings = server.settings()
            tpls = templates(server, cfg)
            samples: list[Sample] = []
            for rep in range(cfg.reps):
                for workers in WORKER_COUNTS:
                    for kind in (*LIFE_KINDS, *CLAIM_KINDS):  # back to back: ratios pair them
                        s = measure(kind, workers, cfg, server, tpls[kind], crew)
                        unit = "claims" if kind.endswith("claim") else "lifecycles"
                        err.print(
                            f"  [{rep + 1}/{cfg.reps}] {kind:16} {workers:2}w: {s.rate:8,.0f} "
                            f"{unit}/s ({s.count:,} in {s.wall_s:.2f}s"
                            + (", board ran out)" if s.exhausted else ")")
                        )
                        samples.append(s)
            lat = handoff(cfg, server, crew, "handoff_claimer")
            real = handoff(cfg, server, crew, "handoff_worker")
            worker = worker_path(cfg, server, crew)
    finally:
        crew.close()
    result = summarise(samples)
    ms = 1e3
    result.update(
        {
            "handoff_p50_ms": _pct(lat["from_return"], 50) * ms,
            "handoff_p99_ms": _pct(lat["from_return"], 99) * ms,
            "handoff_from_call_p50_ms": _pct(lat["from_call"], 50) * ms,
            "handoff_from_call_p99_ms": _pct(lat["from_call"], 99) * ms,
            "handoff_worker_p50_ms": _pct(real["from_return"], 50) * ms,
            "handoff_worker_p99_ms": _pct(real["from_return"], 99) * ms,
            "handoff_samples": len(lat["from_return"]),
        }
    )
    result["targets"] = {
        "ratio_to_raw_16w": TARGET_RATIO_16W,
        "handoff_p50_ms": TARGET_HANDOFF_P50_MS,
    }
    result["pass"] = {
        "ratio_to_raw_16w": result["ratio_to_raw_16w"] >= TARGET_RATIO_16W,
        "handoff_p50_ms": result["handoff_p50_ms"] < TARGET_HANDOFF_P50_MS,
    }
    result["method"] = {
        "statistic": f"throughput: median of {cfg.reps} runs; ratio: median of paired ratios",
        "lifecycle": f"claim + submit on chains of {CHAIN_LEN} (a completion releases its "
        "dependent); claims: claim only, on a flat board",
        "raw": "psycopg, autocommit: one UPDATE ... SKIP LOCKED RETURNING per claim, one "
        "data-modifying CTE per completion; raw + events: explicit transactions that also "
        "take seqs from a locked counter row, insert the events and pg_notify, one statement "
        "at a time; raw + events tail: those three as one statement pipelined with COMMIT",
        "handoff": "submit(a) returns in one process -> claim(b) returns in another, idle "
        "process running Worker's idle loop (claim, reap, wait_for_commit via LISTEN)",
        "config": asdict(cfg),
    }
    result["worker_path"] = worker
    result["server_settings"] = settings
    result["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "note": "2 cores, shared with other jobs while measuring",
    }
    result["date"] = DATE
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    wp_table = wp.table(
        worker,
        "Worker path on PostgreSQL, 1 process: the documented Worker with a no-op agent vs "
        "the bare claim + submit loop",
        f"Runs over {WORKER_TAIL:,} tasks: the rest done by the loop beforehand.",
    )
    if args.json:
        print(json.dumps(result, indent=2))
        out = Console(stderr=True, width=max(err.width, 118))
    else:
        out = Console(width=max(Console().width, 118))
    out.print(table(result, cfg))
    out.print(wp_table)
    err.print(f"elapsed {result['elapsed_s']}s; server {settings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
