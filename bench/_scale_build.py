"""Building bench/scale.py's boards through the public API, and what that costs.

A board of N tasks is one run of N independent tasks of one role, all ready: every
task is in the claim index, so a claim has the most to choose from. It is built with
``create_run`` of the first ``chunk`` tasks and ``add_tasks`` of the rest, ``chunk`` at
a time, with ``Limits.max_tasks`` raised to ``chunk`` (the default refuses plans and
additions over 20,000 tasks; the limit is per call, not per run). Why chunks and not one
plan of 1,000,000: on PostgreSQL a transaction's events go to the server as one JSON
text with the ``COMMIT`` (``append_events_numbered``), and a million ``task.created``
events (~560 bytes each) are past what the server can allocate for one query
("invalid memory alloc request size 1073741824", after minutes of work, all rolled
back); and a million tasks in one call holds ~8-10 GB in the client.

Each build runs in a spawned process of its own, so its memory is given back before the
next, and reports the seconds of every call.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import time
from dataclasses import dataclass, field, replace
from typing import Any

from baton.board import Board
from baton.model.limits import DEFAULT_LIMITS, Limits

ROLE = "worker"


def limits_for(tasks: int) -> Limits:
    """Baton's limits with ``max_tasks`` raised to ``tasks`` where it is lower."""
    return replace(DEFAULT_LIMITS, max_tasks=max(DEFAULT_LIMITS.max_tasks, tasks))


def specs(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` independent tasks ``t<first>``... of role ``worker``, as a plan lists them."""
    return [
        {"id": f"t{i}", "role": ROLE, "title": f"task {i}"} for i in range(first, first + count)
    ]


def flat_plan(first: int, count: int, goal: str = "scale benchmark") -> dict[str, Any]:
    return {"goal": goal, "roles": [ROLE], "tasks": specs(first, count)}


@dataclass
class Built:
    """What building a board took: the run(s), the seconds of each call, in order."""

    run_ids: list[str]
    tasks: int
    calls: list[tuple[str, int, float]] = field(default_factory=list)  # (call, tasks, s)

    @property
    def seconds(self) -> float:
        return sum(s for _, _, s in self.calls)

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0


async def _timed(built: Built, call: str, tasks: int, work: Any) -> Any:
    start = time.perf_counter()
    out = await work
    built.calls.append((call, tasks, time.perf_counter() - start))
    return out


async def build_one_run(url: str, tasks: int, chunk: int) -> Built:
    """One run of ``tasks`` tasks: ``create_run`` of ``chunk``, then ``add_tasks`` of
    ``chunk`` at a time (``chunk`` 0: everything in the one ``create_run``)."""
    chunk = chunk or tasks
    board = Board.open(url, limits=limits_for(chunk))
    try:
        first = min(chunk, tasks)
        built = Built([], tasks)
        run = await _timed(
            built, "create_run", first, board.create_run(flat_plan(0, first), actor="bench")
        )
        built.run_ids.append(run.id)
        for start in range(first, tasks, chunk):
            count = min(chunk, tasks - start)
            await _timed(
                built,
                "add_tasks",
                count,
                board.add_tasks(run.id, specs(start, count), actor="bench"),
            )
        return built
    finally:
        await board.close()


async def build_many_runs(url: str, tasks: int, per_run: int) -> Built:
    """``tasks`` tasks as runs of ``per_run`` (the default limits allow 20,000 a plan)."""
    board = Board.open(url, limits=limits_for(per_run))
    built = Built([], tasks)
    try:
        for start in range(0, tasks, per_run):
            count = min(per_run, tasks - start)
            plan = flat_plan(start, count, goal=f"scale benchmark, part {start // per_run}")
            run = await _timed(built, "create_run", count, board.create_run(plan, actor="bench"))
            built.run_ids.append(run.id)
        return built
    finally:
        await board.close()


def _child(kind: str, url: str, tasks: int, chunk: int, out: Any) -> None:
    try:
        make = build_one_run if kind == "one_run" else build_many_runs
        out.put(asyncio.run(make(url, tasks, chunk)))
    except BaseException as exc:  # reported, not raised: the parent says what failed
        out.put(f"{type(exc).__name__}: {str(exc)[:500]}")


def build(kind: str, url: str, tasks: int, chunk: int, timeout_s: float = 7200) -> Built:
    """Build in a spawned process (``kind``: "one_run" or "many_runs"); raise with the
    child's error if it failed."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, url, tasks, chunk, out))
    proc.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:  # a child that dies without a word must not hang the parent
            try:
                got = out.get(timeout=5)
                break
            except queue.Empty:
                if not proc.is_alive():
                    got = f"the build process died (exit code {proc.exitcode})"
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    got = f"the build took over {timeout_s:.0f}s"
                    break
    finally:
        proc.join(timeout=60)
    if isinstance(got, str):
        raise RuntimeError(f"building {tasks:,} tasks ({kind}, chunk {chunk:,}) failed: {got}")
    return got
