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
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

ROLE = "worker"
KINDS = ("worker", "loop")
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


@dataclass(frozen=True)
class Sample:
    """One drain of a fresh board by one process."""

    kind: str  # "worker" | "loop"
    shape: str
    size: int  # tasks in the run
    tasks: int  # tasks this drain completed (the run's last ``tasks`` ones)
    wall_s: float
    create_s: float  # create_run of the board (not timed in the rate)

    @property
    def rate(self) -> float:
        return self.tasks / self.wall_s


def summarise(
    samples: Sequence[Sample], shapes: Sequence[Shape], reps: dict[int, int], note: str
) -> dict[str, Any]:
    """Medians per (shape, size, kind); the Worker/loop ratio paired within each
    repetition (they run back to back); growth = time per task at a size / at the
    smallest size of the same shape (1.0: flat; 1.2: 20% more per task)."""
    by: dict[tuple[str, int, str], list[Sample]] = {}
    for s in samples:
        by.setdefault((s.shape, s.size, s.kind), []).append(s)
    rows: list[dict[str, Any]] = []
    passes: dict[str, bool] = {}
    for shape in shapes:
        sizes = sorted({size for (name, size, _k) in by if name == shape.name})
        if not sizes:
            continue
        base: dict[str, float] = {}
        for size in sizes:
            w, lp = by[(shape.name, size, "worker")], by[(shape.name, size, "loop")]
            rate_w = statistics.median(s.rate for s in w)
            rate_l = statistics.median(s.rate for s in lp)
            base.setdefault("worker", rate_w)
            base.setdefault("loop", rate_l)
            ratio = statistics.median(a.rate / b.rate for a, b in zip(w, lp, strict=True))
            rows.append(
                {
                    "shape": shape.name,
                    "size": size,
                    "measured_tasks": w[0].tasks,
                    "reps": len(w),
                    "worker_tasks_per_s": rate_w,
                    "loop_tasks_per_s": rate_l,
                    "worker_to_loop": ratio,
                    "worker_per_task_growth": base["worker"] / rate_w,
                    "loop_per_task_growth": base["loop"] / rate_l,
                    "worker_samples_per_s": [round(s.rate) for s in w],
                    "loop_samples_per_s": [round(s.rate) for s in lp],
                    "create_s": statistics.median(s.create_s for s in w + lp),
                }
            )
        mine = [r for r in rows if r["shape"] == shape.name]
        passes[f"{shape.name}_growth"] = mine[-1]["worker_per_task_growth"] <= TARGET_GROWTH
        passes[f"{shape.name}_worker_to_loop"] = all(
            r["worker_to_loop"] >= TARGET_TO_LOOP for r in mine
        )
    return {
        "rows": rows,
        "targets": {
            "worker_per_task_growth_largest_vs_smallest": TARGET_GROWTH,
            "worker_to_loop_min": round(TARGET_TO_LOOP, 4),
        },
        "pass": passes,
        "method": {
            "worker": "baton.Worker(board, {'worker': noop}, concurrency=1) in one process; "
            "rate = tasks completed / wall time of worker.run(run_id=...) (returns when the "
            "run has ended); create_run not timed",
            "loop": "claim + submit with the Board API in one process, same board, until the "
            "run has ended",
            "growth": "time per task at a size / time per task at the smallest size, same "
            "shape and kind (median rates)",
            "ratio": "Worker rate / loop rate, median of pairs run back to back",
            "reps_by_size": {f"{k}": v for k, v in reps.items()},
            "boards": note,
        },
    }


def table(summary: dict[str, Any], title: str, caption: str = "") -> Table:
    t = Table(title=title, caption=caption or None)
    for name, justify in (
        ("shape", "left"),
        ("tasks in run", "right"),
        ("timed", "right"),
        ("runs", "right"),
        ("Worker tasks/s", "right"),
        ("loop tasks/s", "right"),
        ("Worker / loop", "right"),
        ("Worker growth", "right"),
        ("loop growth", "right"),
    ):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]

    def mark(ok: bool, text: str) -> str:
        return f"[green]{text}[/]" if ok else f"[red]{text}[/]"

    for r in summary["rows"]:
        ratio_ok = r["worker_to_loop"] >= TARGET_TO_LOOP
        growth_ok = r["worker_per_task_growth"] <= TARGET_GROWTH
        t.add_row(
            r["shape"],
            f"{r['size']:,}",
            f"{r['measured_tasks']:,}",
            str(r["reps"]),
            f"{r['worker_tasks_per_s']:,.0f}",
            f"{r['loop_tasks_per_s']:,.0f}",
            mark(ratio_ok, f"{r['worker_to_loop']:.2f}"),
            mark(growth_ok, f"{r['worker_per_task_growth']:.2f}x"),
            f"{r['loop_per_task_growth']:.2f}x",
        )
    targets = (
        f"targets: Worker / loop >= {TARGET_TO_LOOP:.2f} (within 1.5x) at every size; "
        f"Worker per task at the largest size <= {TARGET_GROWTH}x the smallest. "
    )
    verdicts = ", ".join(
        f"{k}: {'PASS' if v else 'FALL SHORT'}" for k, v in summary["pass"].items()
    )
    t.caption = (caption + "\n" if caption else "") + targets + verdicts
    return t
