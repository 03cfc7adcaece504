"""Run N real worker processes that start together, and time them.

Workers are spawned OS processes (not threads, not fork) so that they share nothing but
the database file, exactly like independent agent workers would. Each one opens its own
connections *before* the barrier and only then starts its clock, so process start-up and
imports are never counted. Throughput is measured on the shared monotonic clock (the
same ``CLOCK_MONOTONIC`` in every process): total work / (last finish - first start).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any


@dataclass(frozen=True)
class Job:
    """What one worker process is asked to do (picklable, so it crosses ``spawn``)."""

    path: str
    durability: str  # "normal" | "full"
    name: str
    deadline_s: float  # stop after this long even if work is left (slow disks)
    run_id: str = ""  # Baton only: the run to drain
    with_events: bool = False  # raw only: also append to an event log


@dataclass(frozen=True)
class WorkerResult:
    name: str
    lifecycles: int
    started: float  # time.monotonic() just after the barrier
    finished: float
    idle_polls: int  # claims that found nothing while work was still pending elsewhere


Worker = Callable[[Job, Barrier], WorkerResult]


def _entry(target: Worker, job: Job, barrier: Barrier, out: Any) -> None:
    try:
        out.put(target(job, barrier))
    except BaseException:
        barrier.abort()  # never leave the siblings waiting for a dead worker
        out.put(f"{job.name}: {traceback.format_exc()}")


def run_workers(target: Worker, jobs: list[Job], timeout_s: float) -> list[WorkerResult]:
    """Run ``target(job, barrier)`` in one spawned process per job; all start together."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    out = ctx.Queue()
    procs = [ctx.Process(target=_entry, args=(target, j, barrier, out)) for j in jobs]
    for p in procs:
        p.start()
    results: list[WorkerResult] = []
    errors: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(results) + len(errors) < len(jobs):
            try:
                item = out.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise
                codes = [p.exitcode for p in procs]
                if any(code not in (None, 0) for code in codes) and out.empty():
                    # died outside _entry (an import failed, say): no answer is coming
                    barrier.abort()
                    raise RuntimeError(f"a worker process died: exit codes {codes}") from None
                continue
            if isinstance(item, WorkerResult):
                results.append(item)
            else:
                errors.append(str(item))
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():  # only ever our own children
                p.kill()
                p.join()
    if errors:
        raise RuntimeError("worker failed:\n" + "\n".join(errors))
    return results


def wall_time(results: list[WorkerResult]) -> float:
    """Seconds from the first worker's start to the last worker's finish."""
    return max(r.finished for r in results) - min(r.started for r in results)
