"""The Baton side of the benchmark: plans, a worker process, and claim latency.

Everything here goes through the public async API (``Board.create_run``, ``claim``,
``submit``, ``release``) on a ``SqliteStore`` with the durability under test, so the
figures are what an agent worker would see, minus the agent; ``agent_worker`` runs the
documented ``Worker`` itself, with a no-op agent (bench/_worker_path.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.synchronize import Barrier
from typing import Any, TypeVar

import _worker_path as worker_path
from _harness import Job, WorkerResult

from baton import Worker
from baton.board import Board
from baton.model import RunState
from baton.model.limits import DEFAULT_LIMITS, Limits
from baton.store.sqlite import Durability, SqliteStore

T = TypeVar("T")

ROLE = "worker"
OUTPUT = {"ok": True}  # what every worker submits; the tasks have no output contract


def _durability(name: str) -> Durability:
    return "full" if name == "full" else "normal"


def open_board(path: str, durability: str, limits: Limits = DEFAULT_LIMITS) -> Board:
    return Board(SqliteStore(path, durability=_durability(durability)), limits=limits)


def fitting(tasks: int) -> Limits:
    """Baton's limits with ``max_tasks`` raised to ``tasks`` where it is lower: the
    default refuses plans over 20,000 tasks and the benchmark's boards can be larger
    (the limit is checked when a plan is created, not while its tasks are worked)."""
    return replace(DEFAULT_LIMITS, max_tasks=max(DEFAULT_LIMITS.max_tasks, tasks))


def store_settings(path: str, durability: str, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read`` applied to the writer connection of a ``SqliteStore`` (private, but the
    benchmark must compare the settings Baton really runs with, not what it documents)."""
    store = SqliteStore(path, durability=_durability(durability))
    try:
        return read(store._w)
    finally:
        asyncio.run(store.close())


def chain_plan(n_tasks: int, chain_len: int) -> dict[str, Any]:
    """``n_tasks`` tasks in chains of ``chain_len``: every task but a chain's last has a
    dependent that its completion releases (pending -> ready in the same transaction).
    No reviewer, no approval gate, no output contract: submit goes straight to done."""
    tasks: list[dict[str, Any]] = []
    for i in range(n_tasks):
        task: dict[str, Any] = {"id": f"t{i}", "role": ROLE, "title": f"task {i}"}
        if i % chain_len:
            task["depends_on"] = [f"t{i - 1}"]
        tasks.append(task)
    return {"goal": "benchmark: chains of tasks", "roles": [ROLE], "tasks": tasks}


def flat_plan(n_tasks: int) -> dict[str, Any]:
    """``n_tasks`` independent tasks, all ready at once (for claim latency)."""
    tasks = [{"id": f"t{i}", "role": ROLE, "title": f"task {i}"} for i in range(n_tasks)]
    return {"goal": "benchmark: a flat board", "roles": [ROLE], "tasks": tasks}


async def _create(path: str, durability: str, plan: dict[str, Any]) -> tuple[str, float]:
    board = open_board(path, durability, fitting(len(plan["tasks"])))
    try:
        start = time.perf_counter()
        run = await board.create_run(plan, actor="bench")
        return run.id, time.perf_counter() - start
    finally:
        await board.close()


def create(path: str, durability: str, plan: dict[str, Any]) -> tuple[str, float]:
    """Put ``plan`` on a fresh board with ``create_run``; (run id, seconds it took)."""
    return asyncio.run(_create(path, durability, plan))


async def _work(job: Job, barrier: Barrier) -> WorkerResult:
    board = open_board(job.path, job.durability)
    await board.get_run(job.run_id)  # connections open and schema checked before the start
    barrier.wait()
    started = time.monotonic()
    deadline = started + job.deadline_s
    done = idle = 0
    while time.monotonic() < deadline:
        lease = await board.claim(job.name, [ROLE])
        if lease is None:
            if (await board.get_run(job.run_id)).state is RunState.ACTIVE:
                idle += 1  # the rest is pending behind tasks other workers hold
                await asyncio.sleep(0.0005)
                continue
            break
        await board.submit(lease.task_id, lease.token, OUTPUT, participant=job.name)
        done += 1
    finished = time.monotonic()
    await board.close()
    return WorkerResult(job.name, done, started, finished, idle)


def worker(job: Job, barrier: Barrier) -> WorkerResult:
    """One worker process: claim, submit, repeat until the run is finished or time is up."""
    return asyncio.run(_work(job, barrier))


async def _agent_worker(job: Job, barrier: Barrier, watchdog: bool) -> WorkerResult:
    board = open_board(job.path, job.durability)
    agent = Worker(board, {ROLE: worker_path.noop}, name=job.name, concurrency=1, watchdog=watchdog)
    await board.get_run(job.run_id)  # connections open and schema checked before the start
    barrier.wait()
    started = time.monotonic()
    await asyncio.wait_for(agent.run(run_id=job.run_id), job.deadline_s)
    finished = time.monotonic()
    await board.close()
    return WorkerResult(job.name, agent.completed, started, finished, 0)


def agent_worker(job: Job, barrier: Barrier) -> WorkerResult:
    """One process running the documented ``Worker`` with a no-op agent until the run
    ``job.run_id`` has ended; the time is that of ``Worker.run``."""
    return asyncio.run(_agent_worker(job, barrier, watchdog=True))


def agent_worker_no_watchdog(job: Job, barrier: Barrier) -> WorkerResult:
    """The same, with ``Worker(..., watchdog=False)``."""
    return asyncio.run(_agent_worker(job, barrier, watchdog=False))


async def _watchdog_pass(path: str, durability: str, run_id: str) -> float:
    board = open_board(path, durability)
    try:
        return await worker_path.watchdog_pass_s(board, run_id)
    finally:
        await board.close()


def watchdog_pass(path: str, durability: str, run_id: str) -> float:
    """Seconds one watchdog pass takes on the run (bench/_worker_path.py)."""
    return asyncio.run(_watchdog_pass(path, durability, run_id))


async def _count_by_state(path: str, run_id: str) -> dict[str, int]:
    board = open_board(path, "normal")
    try:
        return await board.store.count_by_state(run_id)
    finally:
        await board.close()


def count_by_state(path: str, run_id: str) -> dict[str, int]:
    return asyncio.run(_count_by_state(path, run_id))


async def _claim_latency(
    paths: dict[int, str], durability: str, claims: int, warmup: int, chunk: int
) -> dict[int, list[float]]:
    boards = {size: open_board(path, durability) for size, path in paths.items()}
    samples: dict[int, list[float]] = {size: [] for size in paths}
    try:
        for board in boards.values():  # warm each board's caches, untimed
            await _claims(board, warmup, [])
        for _ in range(0, claims, chunk):
            for size, board in boards.items():  # alternate: both sizes see the same noise
                await _claims(board, chunk, samples[size])
        return samples
    finally:
        for board in boards.values():
            await board.close()


async def _claims(board: Board, n: int, samples: list[float]) -> None:
    for _ in range(n):
        start = time.perf_counter()
        lease = await board.claim("bench", [ROLE])
        elapsed = time.perf_counter() - start
        if lease is None:
            raise RuntimeError("the latency board ran out of ready tasks")
        await board.release(lease.task_id, lease.token, participant="bench")
        samples.append(elapsed)


def claim_latency(
    paths: dict[int, str], durability: str, claims: int, warmup: int, chunk: int = 50
) -> dict[int, list[float]]:
    """Seconds per ``claim`` call, one process, on existing boards of several sizes, in
    alternating chunks of ``chunk`` claims. Each claim is given back with ``release``
    (untimed) so that every sample sees a board of the same size."""
    return asyncio.run(_claim_latency(paths, durability, claims, warmup, chunk))
