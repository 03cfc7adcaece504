"""The path users actually run, beside the bare loop: shared by bench/board.py (SQLite)
and bench/postgres.py (PostgreSQL).

"Worker" is the documented ``baton.Worker`` hosting one no-op agent
(``async def noop(ctx): return {}``), ``concurrency=1``, one process: its rate is the
tasks it completed / the wall time of ``await worker.run(run_id=...)``, which returns
when the run has ended. "Loop" is the bare ``claim`` + ``submit`` loop the rest of the
benchmark measures, in one process, on an identical board. Both drain the board to the
end. ``create_run`` is never timed.

What is compared, per plan shape and run size: Worker / loop at the same size (the
Worker's overhead: the per-task ``get_run``s, ``last_seq``, building the agent's context
including ``messages(run, limit=50)``, the agent's task and heartbeat, the idempotency
key on submit, the watchdog duty), and each one's cost per task at a size against its
cost per task at the smallest size (does it grow with the run?).

Every Worker holds (or competes for) the singleton watchdog duty, and its holder runs
one orchestrator pass per ``tick_s`` (2 s) in the same event loop as the agents; a pass
reads all of the run's tasks. So the Worker's rate can depend on the run's size through
the watchdog alone. To tell the two apart, "Worker, no watchdog"
(``Worker(..., watchdog=False)``) can be measured too, and one watchdog pass
(``Orchestrator.tick(run_id=...)``, what the duty runs, alone on a board of that size
and shape, median of ``PASS_REPS``) is timed beside the drains.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from baton.board import BoardAPI
from baton.runtime.watchdog import WatchdogDuty

ROLE = "worker"
WORKER, BARE, LOOP = "worker", "worker_no_watchdog", "loop"
PASS_REPS = 3
TARGET_GROWTH = 1.2  # the Worker's time per task at the largest size / at the smallest
TARGET_TO_LOOP = 1 / 1.5  # the Worker's rate / the loop's, at every size


@dataclass(frozen=True)
class Shape:
    name: str
    chain_len: int  # 1: independent tasks, all ready at once

    @property
    def label(self) -> str:
        return "independent" if self.chain_len == 1 else f"chains of {self.chain_len}"


FLAT = Shape("flat", 1)


def plan(size: int, shape: Shape) -> dict[str, Any]:
    """``size`` tasks of role ``worker``; in chains of ``shape.chain_len`` (each task but
    a chain's first depends on the one before), or independent when it is 1."""
    tasks: list[dict[str, Any]] = []
    for i in range(size):
        task: dict[str, Any] = {"id": f"t{i}", "role": ROLE, "title": f"task {i}"}
        if i % shape.chain_len:
            task["depends_on"] = [f"t{i - 1}"]
        tasks.append(task)
    return {"goal": f"benchmark: worker path, {shape.label}", "roles": [ROLE], "tasks": tasks}


async def noop(ctx: Any) -> dict[str, Any]:
    """The agent: does nothing, returns an empty output."""
    return {}


def order(kinds: Sequence[str], rep: int) -> Sequence[str]:
    """The kinds back to back, in the opposite order every other repetition."""
    return kinds if rep % 2 == 0 else kinds[::-1]


async def watchdog_pass_s(board: BoardAPI, run_id: str) -> float:
    """Seconds one watchdog pass takes on ``run_id`` (median of ``PASS_REPS``): the
    orchestrator the duty runs, with the duty's settings, alone on the board. On a
    healthy run it changes nothing (nothing to reap, nothing to escalate)."""
    duty = WatchdogDuty(board, participant="bench:watchdog")
    took = []
    for _ in range(PASS_REPS):
        start = time.perf_counter()
        await duty.orchestrator.tick(run_id=run_id)
        took.append(time.perf_counter() - start)
    return statistics.median(took)


@dataclass(frozen=True)
class Sample:
    """One drain of a fresh board by one process."""

    kind: str  # WORKER | BARE | LOOP
    shape: str
    size: int  # tasks in the run
    tasks: int  # tasks this drain completed (the run's last ``tasks`` ones)
    wall_s: float
    create_s: float  # create_run of the board (not timed in the rate)

    @property
    def rate(self) -> float:
        return self.tasks / self.wall_s


def summarise(
    samples: Sequence[Sample],
    shapes: Sequence[Shape],
    passes: dict[tuple[str, int], float],
    reps: dict[int, int],
    note: str,
) -> dict[str, Any]:
    """Medians per (shape, size, kind); ratios to the loop paired within each
    repetition (they run back to back); growth = time per task at a size / at the
    smallest size of the same shape and kind (1.0: flat; 1.2: 20% more per task)."""
    by: dict[tuple[str, int, str], list[Sample]] = {}
    for s in samples:
        by.setdefault((s.shape, s.size, s.kind), []).append(s)
    kinds = [k for k in (WORKER, BARE, LOOP) if any(key[2] == k for key in by)]
    rows: list[dict[str, Any]] = []
    verdicts: dict[str, bool] = {}
    for shape in shapes:
        sizes = sorted({size for (name, size, _k) in by if name == shape.name})
        if not sizes:
            continue
        base: dict[str, float] = {}
        mine: list[dict[str, Any]] = []
        for size in sizes:
            loop = by[(shape.name, size, LOOP)]
            row: dict[str, Any] = {
                "shape": shape.name,
                "size": size,
                "measured_tasks": loop[0].tasks,
                "reps": len(loop),
            }
            for kind in kinds:
                got = by[(shape.name, size, kind)]
                rate = statistics.median(s.rate for s in got)
                base.setdefault(kind, rate)
                row[f"{kind}_tasks_per_s"] = rate
                row[f"{kind}_per_task_growth"] = base[kind] / rate
                if kind != LOOP:
                    pairs = zip(got, loop, strict=True)
                    row[f"{kind}_to_loop"] = statistics.median(a.rate / b.rate for a, b in pairs)
            if (shape.name, size) in passes:
                row["watchdog_pass_ms"] = passes[(shape.name, size)] * 1e3
            for kind in kinds:
                row[f"{kind}_samples_per_s"] = [round(s.rate) for s in by[(shape.name, size, kind)]]
            row["create_s"] = statistics.median(s.create_s for s in loop)
            mine.append(row)
        rows.extend(mine)
        verdicts[f"{shape.name}_growth"] = mine[-1]["worker_per_task_growth"] <= TARGET_GROWTH
        verdicts[f"{shape.name}_worker_to_loop"] = all(
            r["worker_to_loop"] >= TARGET_TO_LOOP for r in mine
        )
    return {
        "rows": rows,
        "targets": {
            "worker_per_task_growth_largest_vs_smallest": TARGET_GROWTH,
            "worker_to_loop_min": round(TARGET_TO_LOOP, 4),
        },
        "pass": verdicts,
        "method": {
            "worker": "baton.Worker(board, {'worker': noop}, concurrency=1) in one process; "
            "rate = tasks completed / wall time of worker.run(run_id=...) (returns when the "
            "run has ended); create_run not timed",
            "worker_no_watchdog": "the same with watchdog=False (no watchdog duty)",
            "loop": "claim + submit with the Board API in one process, same board, until the "
            "run has ended",
            "watchdog_pass": "one Orchestrator.tick(run_id) with the watchdog duty's settings, "
            f"alone, on a board of that size and shape; median of {PASS_REPS}",
            "growth": "time per task at a size / time per task at the smallest size, same "
            "shape and kind (median rates)",
            "ratio": "rate / loop rate, median of pairs run back to back",
            "reps_by_size": {f"{k}": v for k, v in reps.items()},
            "boards": note,
        },
    }


def table(summary: dict[str, Any], title: str, caption: str = "") -> Table:
    rows = summary["rows"]
    bare = bool(rows) and f"{BARE}_tasks_per_s" in rows[0]
    t = Table(title=title)
    columns = [
        ("shape", "left"),
        ("tasks", "right"),
        ("timed", "right"),
        ("runs", "right"),
        ("Worker /s", "right"),
        *([("no wd /s", "right")] if bare else []),
        ("loop /s", "right"),
        ("Worker / loop", "right"),
        *([("no wd / loop", "right")] if bare else []),
        ("Worker growth", "right"),
        *([("no wd growth", "right")] if bare else []),
        ("loop growth", "right"),
        ("wd pass", "right"),
    ]
    for name, justify in columns:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]

    def mark(ok: bool, text: str) -> str:
        return f"[green]{text}[/]" if ok else f"[red]{text}[/]"

    for r in rows:
        ratio_ok = r["worker_to_loop"] >= TARGET_TO_LOOP
        growth_ok = r["worker_per_task_growth"] <= TARGET_GROWTH
        pass_ms = r.get("watchdog_pass_ms")
        t.add_row(
            r["shape"],
            f"{r['size']:,}",
            f"{r['measured_tasks']:,}",
            str(r["reps"]),
            f"{r['worker_tasks_per_s']:,.0f}",
            *([f"{r[f'{BARE}_tasks_per_s']:,.0f}"] if bare else []),
            f"{r['loop_tasks_per_s']:,.0f}",
            mark(ratio_ok, f"{r['worker_to_loop']:.2f}"),
            *([f"{r[f'{BARE}_to_loop']:.2f}"] if bare else []),
            mark(growth_ok, f"{r['worker_per_task_growth']:.2f}x"),
            *([f"{r[f'{BARE}_per_task_growth']:.2f}x"] if bare else []),
            f"{r['loop_per_task_growth']:.2f}x",
            _ms(pass_ms),
        )
    legend = (
        "tasks: in the run; timed: the run's last ones, drained; /s: tasks per second "
        "(medians); growth: time per task / that in the smallest run of the same shape; "
        + ("no wd: Worker(watchdog=False); " if bare else "")
        + "wd pass: one watchdog pass (Orchestrator.tick), alone.\n"
    )
    targets = (
        f"targets: Worker / loop >= {TARGET_TO_LOOP:.2f} (within 1.5x) at every size; "
        f"Worker per task at the largest size <= {TARGET_GROWTH}x the smallest. "
    )
    verdicts = ", ".join(
        f"{k}: {'PASS' if v else 'FALL SHORT'}" for k, v in summary["pass"].items()
    )
    t.caption = (caption + "\n" if caption else "") + legend + targets + verdicts
    return t


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 1_000 else f"{value / 1e3:.2f} s"
