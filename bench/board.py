"""Board benchmark: Baton's task lifecycle against the raw SQLite limit, on one machine.

Run by ``make bench`` (a few minutes) or ``make bench-quick`` (under a minute)::

    .venv/bin/python bench/board.py [--quick] [--json] [--reps N] [--dir PATH]

What it measures, all in the same run so that the ratios compare like with like:

(a) Baton lifecycles per second with 1 and 4 worker *processes*. A lifecycle is: the
    task is created in a plan (``create_run``, chains of ``CHAIN_LEN`` tasks), claimed
    (``claim``), submitted (``submit``; no reviewer, no gate, no output contract), so it
    becomes done and its dependent is released in the same transaction. The headline
    figure is lifecycles / wall time of the claim+submit phase; creation is timed
    separately and also folded into an "including creation" figure.
(b) The raw limit: the same lifecycle as minimal hand-written ``sqlite3`` SQL (see
    ``_raw_side.py``), same connection settings, same worker counts. At the default
    durability it is also run with an event log added ("raw + events"), to split the gap
    into what the event log costs and what the rest of Baton costs.
(c) Their ratio, paired per repetition (Baton and raw run back to back).
(d) ``claim`` latency p50/p99 on boards of 1,000 and 100,000 ready tasks.
(e) The path users run (bench/_worker_path.py): the documented ``Worker`` with a no-op
    agent, one process, draining runs of 500 / 5,000 / 50,000 tasks (independent, and
    chains of ``CHAIN_LEN``), beside the same Worker without its watchdog duty and the
    bare claim + submit loop, on identical boards; Worker / loop, each one's time per
    task against the smallest run's, and one watchdog pass timed alone. Always at the
    default durability; reported under ``worker_path``.

Everything is measured at ``synchronous=NORMAL`` (Baton's default) and ``FULL``. Each
throughput figure is the median of ``--reps`` runs, each on a fresh database file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _baton_side as baton_side
import _raw_side as raw_side
import _worker_path as wp
from _harness import Job, WorkerResult, run_workers, wall_time
from rich.console import Console
from rich.table import Table

DATE = "2026-11-22"
CHAIN_LEN = 10
DEFAULT_DURABILITY = "normal"
DURABILITIES = ("normal", "full")
WORKER_COUNTS = (1, 4)
LATENCY_SIZES = (1_000, 100_000)
KINDS = ("baton", "raw", "raw_events")

TARGET_4W = 4_000.0  # lifecycles/s with 4 workers on the 2-core machine
TARGET_RATIO = 1 / 3  # of the raw limit
TARGET_LATENCY_GROWTH = 1.5  # claim p50 at 100k tasks / at 1k tasks
PEER = "LangGraph + SQLite checkpointer: ~1,100-1,400 steps/s (measured earlier here)"

err = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class Config:
    """Sizes for a run. Boards are large enough that a phase normally ends at the
    deadline, not because the board ran dry, so every configuration is timed over about
    the same wall time whatever its speed (slow disks at FULL included)."""

    quick: bool
    reps: int
    baton_tasks: int  # tasks in each Baton throughput board
    raw_tasks: int  # tasks in each raw board (raw is faster, so it needs more work)
    deadline_s: float  # a worker stops after this long even if work is left
    latency_claims: int  # timed claims per board size and durability, per repetition
    latency_warmup: int  # untimed claims first (caches, statement cache)
    worker_reps: dict[int, int]  # worker path: run size -> repetitions (small runs: more)

    @classmethod
    def make(cls, quick: bool, reps: int | None) -> Config:
        if quick:
            return cls(True, reps or 1, 5_000, 35_000, 1.0, 400, 30, {500: 3, 5_000: 1})
        worker_reps = {500: 3, 5_000: reps or 2, 50_000: 1}
        return cls(False, reps or 3, 30_000, 150_000, 5.0, 1_000, 50, worker_reps)


@dataclass(frozen=True)
class Sample:
    """One throughput measurement on a fresh database."""

    kind: str  # "baton" | "raw" | "raw_events"
    durability: str
    workers: int
    lifecycles: int
    wall_s: float
    create_s: float
    created: int
    idle_polls: int

    @property
    def rate(self) -> float:
        return self.lifecycles / self.wall_s


def _throughput(kind: str, durability: str, workers: int, cfg: Config, base: Path) -> Sample:
    """Create a fresh board, let ``workers`` processes drain it, check nothing was lost."""
    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-{durability}-{workers}w-", dir=base))
    path = str(folder / "board.db")
    try:
        run_id = ""
        target: Callable[..., WorkerResult]
        if kind == "baton":
            created = cfg.baton_tasks
            run_id, create_s = baton_side.create(
                path, durability, baton_side.chain_plan(created, CHAIN_LEN)
            )
            target = baton_side.worker
        else:
            created = cfg.raw_tasks
            create_s = raw_side.create(path, durability, created, CHAIN_LEN)
            target = raw_side.worker
        events = kind == "raw_events"
        jobs = [
            Job(path, durability, f"w{i}", cfg.deadline_s, run_id, events) for i in range(workers)
        ]
        results = run_workers(target, jobs, timeout_s=cfg.deadline_s + 120)
        total = sum(r.lifecycles for r in results)
        if kind == "baton":
            states = baton_side.count_by_state(path, run_id)
            done, running = states.get("done", 0), states.get("running", 0)
        else:
            done, running = raw_side.count_done(path)
        if done != total or running:
            raise RuntimeError(f"{kind}: workers counted {total}, board has {done} done")
        return Sample(
            kind,
            durability,
            workers,
            total,
            wall_time(results),
            create_s,
            created,
            sum(r.idle_polls for r in results),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kinds(durability: str) -> tuple[str, ...]:
    """The event-log variant of the raw limit only runs at the default durability."""
    return KINDS if durability == DEFAULT_DURABILITY else KINDS[:2]


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _latency(cfg: Config, base: Path) -> tuple[dict[str, Any], dict[int, float]]:
    """Claim latency per durability and board size; also the seconds each board took to
    create (it is the same file for both durabilities: ``synchronous`` is per connection)."""
    paths: dict[int, str] = {}
    create_s: dict[int, float] = {}
    for size in LATENCY_SIZES:
        folder = Path(tempfile.mkdtemp(prefix=f"latency-{size}-", dir=base))
        paths[size] = str(folder / "board.db")
        err.print(f"  creating a flat board of {size:,} tasks ...")
        _, create_s[size] = baton_side.create(
            paths[size], DEFAULT_DURABILITY, baton_side.flat_plan(size)
        )
    samples: dict[tuple[str, int], list[float]] = {}
    try:
        for rep in range(cfg.reps):
            for durability in DURABILITIES:
                err.print(f"  [{rep + 1}/{cfg.reps}] claims, {durability}")
                got = baton_side.claim_latency(
                    paths, durability, cfg.latency_claims, cfg.latency_warmup
                )
                for size, values in got.items():
                    samples.setdefault((durability, size), []).extend(values)
    finally:
        for path in paths.values():
            shutil.rmtree(Path(path).parent, ignore_errors=True)
    out: dict[str, Any] = {}
    for (durability, size), values in samples.items():
        values.sort()
        label = "1k" if size == 1_000 else "100k"
        out.setdefault(durability, {})[label] = {
            "p50_ms": _percentile(values, 50) * 1e3,
            "p99_ms": _percentile(values, 99) * 1e3,
            "n": len(values),
        }
    return out, create_s


WORKER_SHAPES = (wp.FLAT, wp.Shape("chains", CHAIN_LEN))
WORKER_KINDS = (wp.WORKER, wp.BARE, wp.LOOP)
WORKER_TARGETS: dict[str, Callable[..., WorkerResult]] = {
    wp.WORKER: baton_side.agent_worker,
    wp.BARE: baton_side.agent_worker_no_watchdog,
    wp.LOOP: baton_side.worker,
}
WORKER_DEADLINE_S = 900.0  # the drains end with the run; this only guards against a hang


def _drain(kind: str, shape: wp.Shape, size: int, base: Path) -> wp.Sample:
    """A fresh board of ``size`` tasks drained to the end of the run by one process: the
    ``Worker`` with a no-op agent, or the bare loop; nothing lost, nothing left."""
    folder = Path(tempfile.mkdtemp(prefix=f"wp-{kind}-{shape.name}-{size}-", dir=base))
    path = str(folder / "board.db")
    try:
        run_id, create_s = baton_side.create(path, DEFAULT_DURABILITY, wp.plan(size, shape))
        job = Job(path, DEFAULT_DURABILITY, "w1", WORKER_DEADLINE_S, run_id)
        results = run_workers(WORKER_TARGETS[kind], [job], timeout_s=WORKER_DEADLINE_S + 60)
        states = baton_side.count_by_state(path, run_id)
        completed = results[0].lifecycles
        if completed != size or states.get("done", 0) != size:
            raise RuntimeError(f"{kind} {shape.name} {size}: did {completed}, board {states}")
        return wp.Sample(kind, shape.name, size, size, wall_time(results), create_s)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pass(shape: wp.Shape, size: int, base: Path) -> float:
    """One watchdog pass, alone, on a fresh board of that size and shape."""
    folder = Path(tempfile.mkdtemp(prefix=f"wp-pass-{shape.name}-{size}-", dir=base))
    path = str(folder / "board.db")
    try:
        run_id, _ = baton_side.create(path, DEFAULT_DURABILITY, wp.plan(size, shape))
        return baton_side.watchdog_pass(path, DEFAULT_DURABILITY, run_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _worker_path(cfg: Config, base: Path) -> dict[str, Any]:
    """(e): the Worker, the Worker without its watchdog duty and the loop back to back
    at every size (the order alternating between repetitions), at the default
    durability; and one watchdog pass per size."""
    samples: list[wp.Sample] = []
    passes: dict[tuple[str, int], float] = {}
    for shape in WORKER_SHAPES:
        for size, reps in cfg.worker_reps.items():
            passes[(shape.name, size)] = took = _pass(shape, size, base)
            err.print(f"  watchdog pass, {shape.name:6} {size:>6,} tasks: {took * 1e3:,.0f} ms")
            for rep in range(reps):
                for kind in wp.order(WORKER_KINDS, rep):
                    s = _drain(kind, shape, size, base)
                    err.print(
                        f"  [{rep + 1}/{reps}] {kind:18} {shape.name:6} {size:>6,} tasks: "
                        f"{s.rate:8,.0f} tasks/s ({s.wall_s:.2f}s; created in {s.create_s:.2f}s)"
                    )
                    samples.append(s)
    return wp.summarise(
        samples,
        WORKER_SHAPES,
        passes,
        cfg.worker_reps,
        f"a fresh SQLite file per drain (synchronous={DEFAULT_DURABILITY}); every run "
        "drained whole",
    )


def _summarise(samples: list[Sample], latency: dict[str, Any], reps: int) -> dict[str, Any]:
    """Medians per configuration; ratios paired within each repetition."""
    by: dict[tuple[str, str, int], list[Sample]] = {}
    for s in samples:
        by.setdefault((s.kind, s.durability, s.workers), []).append(s)

    def med(kind: str, durability: str, workers: int) -> float:
        return statistics.median(s.rate for s in by[(kind, durability, workers)])

    out: dict[str, Any] = {}
    for d in DURABILITIES:
        figures: dict[str, Any] = {}
        for w in WORKER_COUNTS:
            figures[f"lifecycles_per_s_{w}w"] = med("baton", d, w)
            figures[f"raw_lifecycles_per_s_{w}w"] = med("raw", d, w)
            pairs = zip(by[("baton", d, w)], by[("raw", d, w)], strict=True)
            figures[f"ratio_to_raw_{w}w"] = statistics.median(b.rate / r.rate for b, r in pairs)
            if ("raw_events", d, w) in by:
                figures[f"raw_events_lifecycles_per_s_{w}w"] = med("raw_events", d, w)
                pairs = zip(by[("baton", d, w)], by[("raw_events", d, w)], strict=True)
                figures[f"ratio_to_raw_events_{w}w"] = statistics.median(
                    b.rate / r.rate for b, r in pairs
                )
        creates = by[("baton", d, 1)] + by[("baton", d, 4)]
        create_rate = statistics.median(s.created / s.create_s for s in creates)
        raw_creates = by[("raw", d, 1)] + by[("raw", d, 4)]
        figures["create_tasks_per_s"] = create_rate
        figures["raw_create_tasks_per_s"] = statistics.median(
            s.created / s.create_s for s in raw_creates
        )
        # Creation and claim/submit both hold the single write lock, so their per-task
        # costs add up: this is the throughput if every task also had to be created.
        figures["lifecycles_per_s_4w_incl_create"] = 1 / (
            1 / create_rate + 1 / figures["lifecycles_per_s_4w"]
        )
        lat = latency.get(d)
        if lat:
            for size in ("1k", "100k"):
                figures[f"claim_p50_ms_{size}"] = lat[size]["p50_ms"]
                figures[f"claim_p99_ms_{size}"] = lat[size]["p99_ms"]
            figures["claim_p50_growth_100k_vs_1k"] = lat["100k"]["p50_ms"] / lat["1k"]["p50_ms"]
        figures["samples_per_s"] = {
            f"{k}_{w}w": [round(s.rate) for s in by[(k, d, w)]]
            for k in KINDS
            for w in WORKER_COUNTS
            if (k, d, w) in by
        }
        out[d] = figures
    return out


def _verdicts(f: dict[str, Any]) -> dict[str, bool]:
    return {
        "lifecycles_per_s_4w": f["lifecycles_per_s_4w"] >= TARGET_4W,
        "ratio_to_raw_4w": f["ratio_to_raw_4w"] >= TARGET_RATIO,
        "claim_latency_growth": f.get("claim_p50_growth_100k_vs_1k", 99.0) <= TARGET_LATENCY_GROWTH,
    }


def _table(by_d: dict[str, dict[str, Any]], cfg: Config) -> Table:
    n, f = by_d["normal"], by_d["full"]
    vn, vf = _verdicts(n), _verdicts(f)
    stat = f"median of {cfg.reps} runs" if cfg.reps > 1 else "1 run each"
    table = Table(
        title=f"Baton board benchmark, {'quick' if cfg.quick else 'full'} ({stat})",
        caption=f"For scale, {PEER}. Targets apply to the default durability (NORMAL).",
    )
    table.add_column("measure")
    table.add_column("NORMAL (default)", justify="right")
    table.add_column("FULL", justify="right")
    table.add_column("target", justify="right")
    table.add_column("verdict NORMAL / FULL")

    def num(figures: dict[str, Any], key: str) -> str:
        return f"{figures[key]:,.0f}" if key in figures else "-"

    def ratio(figures: dict[str, Any], key: str) -> str:
        return f"{figures[key]:.2f}" if key in figures else "-"

    def ms(figures: dict[str, Any], size: str) -> str:
        p50, p99 = figures.get(f"claim_p50_ms_{size}"), figures.get(f"claim_p99_ms_{size}")
        return "-" if p50 is None or p99 is None else f"{p50:.3f} / {p99:.3f} ms"

    def verdict(key: str) -> str:
        def one(ok: bool) -> str:
            return "[green]PASS[/]" if ok else "[red]FALL SHORT[/]"

        return f"{one(vn[key])} / {one(vf[key])}"

    def both(render: Any, key: str) -> tuple[str, str]:
        return render(n, key), render(f, key)

    growth = "claim_p50_growth_100k_vs_1k"
    rows = [
        ("Baton lifecycles/s, 1 worker", *both(num, "lifecycles_per_s_1w"), "", ""),
        ("Baton lifecycles/s, 4 workers", *both(num, "lifecycles_per_s_4w"),
         f">= {TARGET_4W:,.0f}", verdict("lifecycles_per_s_4w")),
        ("raw SQL lifecycles/s, 1 worker", *both(num, "raw_lifecycles_per_s_1w"), "", ""),
        ("raw SQL lifecycles/s, 4 workers", *both(num, "raw_lifecycles_per_s_4w"), "", ""),
        ("raw SQL + event log, 1 worker", *both(num, "raw_events_lifecycles_per_s_1w"), "", ""),
        ("raw SQL + event log, 4 workers", *both(num, "raw_events_lifecycles_per_s_4w"), "", ""),
        ("Baton / raw, 1 worker", *both(ratio, "ratio_to_raw_1w"), "", ""),
        ("Baton / raw, 4 workers", *both(ratio, "ratio_to_raw_4w"), f">= {TARGET_RATIO:.2f}",
         verdict("ratio_to_raw_4w")),
        ("Baton / (raw + event log), 4 workers", *both(ratio, "ratio_to_raw_events_4w"), "", ""),
        ("Baton create_run, tasks/s", *both(num, "create_tasks_per_s"), "", ""),
        ("Baton 4 workers incl. creation, /s", *both(num, "lifecycles_per_s_4w_incl_create"),
         "", ""),
        ("create_run of 100,000 flat tasks, s",
         *(f"{x[k]:.1f}" if k in x else "-" for x in (n, f) for k in ["create_100k_flat_s"]),
         "", ""),
        ("claim p50 / p99, 1,000 tasks", *both(ms, "1k"), "", ""),
        ("claim p50 / p99, 100,000 tasks", *both(ms, "100k"), "", ""),
        ("claim p50 growth, 100k vs 1k", f"{n[growth]:.2f}x", f"{f[growth]:.2f}x",
         f"<= {TARGET_LATENCY_GROWTH}x", verdict("claim_latency_growth")),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*row)
    return table


def _settings(base: Path) -> dict[str, dict[str, Any]]:
    """The SQLite settings Baton's store and the raw limit actually run with, read back
    from live connections; the comparison is refused if they differ in anything."""
    folder = Path(tempfile.mkdtemp(prefix="settings-", dir=base))
    out: dict[str, dict[str, Any]] = {}
    try:
        for durability in DURABILITIES:
            mine = baton_side.store_settings(
                str(folder / f"b-{durability}.db"), durability, _pragmas
            )
            raw = raw_side.connect(str(folder / f"r-{durability}.db"), durability)
            try:
                theirs = _pragmas(raw)
            finally:
                raw.close()
            if mine != theirs:
                raise RuntimeError(f"raw and Baton differ at {durability}: {mine} vs {theirs}")
            out[durability] = mine
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _pragmas(conn: sqlite3.Connection) -> dict[str, Any]:
    names = (
        *("journal_mode", "synchronous", "wal_autocheckpoint", "busy_timeout", "temp_store"),
        *("page_size", "cache_size", "mmap_size", "locking_mode"),
    )
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}


def _machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "note": "2 cores, shared with other jobs while measuring",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (the table goes to stderr)"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement")
    parser.add_argument("--dir", default=None, help="where to put the database files")
    args = parser.parse_args(argv)
    cfg = Config.make(args.quick, args.reps)
    began = time.monotonic()
    load_before = os.getloadavg()  # other jobs on the machine: the figures depend on it
    base = Path(tempfile.mkdtemp(prefix="baton-bench-", dir=args.dir))
    try:
        settings = _settings(base)
        samples: list[Sample] = []
        for rep in range(cfg.reps):
            for durability in DURABILITIES:
                for workers in WORKER_COUNTS:
                    for kind in _kinds(durability):  # back to back: the ratio pairs them
                        s = _throughput(kind, durability, workers, cfg, base)
                        err.print(
                            f"  [{rep + 1}/{cfg.reps}] {kind:10} {durability:6} {workers}w: "
                            f"{s.rate:8,.0f} lifecycles/s ({s.lifecycles:,} in {s.wall_s:.2f}s;"
                            f" created {s.created:,} in {s.create_s:.2f}s)"
                        )
                        samples.append(s)
        latency, latency_create_s = _latency(cfg, base)
        worker_path = _worker_path(cfg, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    by_d = _summarise(samples, latency, cfg.reps)
    by_d[DEFAULT_DURABILITY]["create_100k_flat_s"] = latency_create_s[100_000]
    default = by_d[DEFAULT_DURABILITY]
    result: dict[str, Any] = {
        key: default[key]
        for key in (
            "lifecycles_per_s_1w",
            "lifecycles_per_s_4w",
            "raw_lifecycles_per_s_1w",
            "raw_lifecycles_per_s_4w",
            "ratio_to_raw_1w",
            "ratio_to_raw_4w",
            "ratio_to_raw_events_4w",
            "claim_p50_ms_1k",
            "claim_p99_ms_1k",
            "claim_p50_ms_100k",
            "claim_p99_ms_100k",
            "claim_p50_growth_100k_vs_1k",
            "create_tasks_per_s",
            "lifecycles_per_s_4w_incl_create",
        )
    }
    result["durability"] = DEFAULT_DURABILITY
    result["targets"] = {
        "lifecycles_per_s_4w": TARGET_4W,
        "ratio_to_raw_4w": TARGET_RATIO,
        "claim_p50_growth_100k_vs_1k": TARGET_LATENCY_GROWTH,
    }
    result["pass"] = _verdicts(default)
    result["by_durability"] = by_d
    result["latency_board_create_s"] = {f"{k:,}": v for k, v in latency_create_s.items()}
    result["method"] = {
        "statistic": f"throughput: median of {cfg.reps} runs; ratio: median of paired ratios",
        "lifecycle": f"create_run of chains of {CHAIN_LEN}, claim, submit (no review, no "
        "contract) -> done + dependent released; rate = lifecycles / claim+submit wall time",
        "latency": "claim() wall time in one process, both board sizes open, alternating "
        f"chunks of 50 claims; each claim released untimed; {cfg.latency_warmup} warm-up "
        "claims per board and pass not counted",
        "config": asdict(cfg),
    }
    result["worker_path"] = worker_path
    result["sqlite_settings"] = settings
    result["machine"] = _machine(load_before)
    result["date"] = DATE
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    table = _table(by_d, cfg)
    wp_table = wp.table(
        worker_path,
        f"Worker path on SQLite ({DEFAULT_DURABILITY}), 1 process: the documented Worker with a "
        "no-op agent vs the bare claim + submit loop",
    )
    if args.json:  # stdout carries the JSON alone; the tables go to stderr for people
        print(json.dumps(result, indent=2))
        out = Console(stderr=True, width=max(err.width, 118))
    else:
        out = Console(width=max(Console().width, 118))
    out.print(table)
    out.print(wp_table)
    err.print(f"elapsed {result['elapsed_s']}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
