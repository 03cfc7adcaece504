"""What bench/scale.py times on a built board, all through the public ``Board`` API.

Every function takes open boards (or a URL, where opening is part of what is timed) and
returns plain numbers, so the caller decides how sizes are interleaved. Claims are given
back with ``release`` (untimed) wherever the board must keep its size from one sample
to the next.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import _worker_path as worker_path
from _scale_build import ROLE, flat_plan, specs

from baton import Worker
from baton.board import Board
from baton.model import Event
from baton.views.replay import replay

ME = "bench"
OUTPUT = {"ok": True}
PAGE = 1000  # what `baton events` (subscribe) and GET /runs/{id}/events read per page
REAP_LIMIT = 1000  # Board.reap_expired's default


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 0.50) * 1e3,
        "p99_ms": percentile(samples, 0.99) * 1e3,
        "mean_ms": statistics.fmean(samples) * 1e3,
    }


# --- claims and lifecycles ------------------------------------------------------------


async def claims(board: Board, n: int, out: list[float], run_id: str | None = None) -> None:
    """``n`` timed claims, each released again (untimed): the board keeps its size."""
    for _ in range(n):
        start = time.perf_counter()
        lease = await board.claim(ME, [ROLE], run_id=run_id)
        elapsed = time.perf_counter() - start
        if lease is None:
            raise RuntimeError("the board ran out of claimable tasks")
        await board.release(lease.task_id, lease.token, participant=ME)
        out.append(elapsed)


async def lifecycles(board: Board, n: int, out: list[float], run_id: str | None = None) -> None:
    """``n`` timed claim + submit pairs (no contract, no review: submit makes it done)."""
    for _ in range(n):
        start = time.perf_counter()
        lease = await board.claim(ME, [ROLE], run_id=run_id)
        if lease is None:
            raise RuntimeError("the board ran out of claimable tasks")
        await board.submit(lease.task_id, lease.token, OUTPUT, participant=ME)
        out.append(time.perf_counter() - start)


@dataclass(frozen=True)
class WorkerDrain:
    """The documented ``Worker`` (one no-op agent, ``concurrency=1``, its watchdog duty
    on, as users run it) completing ``tasks`` tasks of the big run, then stopped."""

    tasks: int
    wall_s: float

    @property
    def per_s(self) -> float:
        return self.tasks / self.wall_s if self.wall_s else 0.0


async def worker_drain(url: str, run_id: str, tasks: int) -> WorkerDrain:
    """Seconds for a ``Worker`` on a freshly opened board to complete ``tasks`` tasks:
    from ``worker.run(run_id=...)`` to its return after the agent set ``stop`` at the
    last one (in-flight work finished, the watchdog duty given back)."""
    board = Board.open(url, create=False)
    stop = asyncio.Event()
    done = 0

    async def agent(ctx: Any) -> dict[str, Any]:
        nonlocal done
        done += 1
        if done >= tasks:
            stop.set()
        return {}

    try:
        worker = Worker(board, {ROLE: agent}, name="scale-worker", concurrency=1)
        start = time.perf_counter()
        await worker.run(run_id=run_id, stop=stop)
        took = time.perf_counter() - start
        return WorkerDrain(worker.completed, took)
    finally:
        await board.close()


Step = Callable[[int, list[float]], Awaitable[None]]


async def interleaved(steps: dict[int, Step], total: int, chunk: int) -> dict[int, list[float]]:
    """Each size's ``step`` run ``total`` times in chunks of ``chunk``, the sizes taking
    turns, so that every size sees the same moments of a shared machine."""
    out: dict[int, list[float]] = {size: [] for size in steps}
    for done in range(0, total, chunk):
        for size, step in steps.items():
            await step(min(chunk, total - done), out[size])
    return out


# --- opening and resuming -------------------------------------------------------------


async def open_seconds(url: str, run_id: str, reps: int) -> list[float]:
    """Seconds from ``Board.open`` to the first answer (``get_run``, what a worker's
    ``check_run`` asks first), then closed; ``reps`` times."""
    took = []
    for _ in range(reps):
        start = time.perf_counter()
        board = Board.open(url, create=False)
        await board.get_run(run_id)
        took.append(time.perf_counter() - start)
        await board.close()
    return took


@dataclass(frozen=True)
class Resume:
    """A worker restarted after being killed while it held ``leases`` leases."""

    leases: int
    open_s: float  # Board.open + get_run
    reap_s: float  # reap_expired until nothing was left (calls of REAP_LIMIT)
    reap_calls: int
    reaped: int
    first_claim_s: float
    watchdog_pass_s: float  # one pass of the duty every Worker competes for

    @property
    def total_s(self) -> float:
        return self.open_s + self.reap_s + self.first_claim_s


async def kill_holding(url: str, leases: int, lease_s: float) -> None:
    """A worker takes ``leases`` leases of ``lease_s`` seconds and dies holding them."""
    dead = Board.open(url)
    try:
        for _ in range(leases):
            if await dead.claim("dead-worker", [ROLE], lease_s=lease_s) is None:
                raise RuntimeError("the board ran out of claimable tasks")
    finally:
        await dead.close()  # no release: killed


async def resume(url: str, run_id: str, leases: int, lease_s: float = 1.0) -> Resume:
    """What a restarted worker does first on a board where a killed one held
    ``leases`` leases, now expired: open, reap them all, claim."""
    await kill_holding(url, leases, lease_s)
    await asyncio.sleep(lease_s + 0.3)
    t0 = time.perf_counter()
    board = Board.open(url, create=False)
    try:
        await board.get_run(run_id)
        t1 = time.perf_counter()
        reaped, calls = 0, 0
        while True:
            got = await board.reap_expired(actor="restarted-worker")
            reaped, calls = reaped + len(got), calls + 1
            if len(got) < REAP_LIMIT:
                break
        t2 = time.perf_counter()
        lease = await board.claim("restarted-worker", [ROLE], run_id=run_id)
        t3 = time.perf_counter()
        if lease is None:
            raise RuntimeError("nothing to claim after the reap")
        await board.release(lease.task_id, lease.token, participant="restarted-worker")
        watchdog = await worker_path.watchdog_pass_s(board, run_id)
        return Resume(leases, t1 - t0, t2 - t1, calls, reaped, t3 - t2, watchdog)
    finally:
        await board.close()


# --- the event log --------------------------------------------------------------------


async def read_log(board: Board, run_id: str, *, keep: bool) -> tuple[list[Event], int, float]:
    """The run's whole log through ``Board.events``, ``PAGE`` at a time; (the events if
    ``keep``, how many, s). Streamed (``keep=False``) is what ``baton events`` and a
    subscriber do; kept, the caller also holds every event (for a replay), and Python's
    garbage collector walks all of them again and again as the list grows."""
    found: list[Event] = []
    since = count = 0
    start = time.perf_counter()
    while True:
        page = await board.events(run_id, since=since, limit=PAGE)
        count += len(page)
        if keep:
            found.extend(page)
        if len(page) < PAGE:
            return found, count, time.perf_counter() - start
        since = page[-1].seq


def replay_seconds(events: list[Event], board_counts: dict[str, int]) -> tuple[float, bool]:
    """Seconds for ``views.replay`` of ``events`` to their last seq, and whether the
    view it folded agrees with the board's own counts by state (it must)."""
    start = time.perf_counter()
    view = replay(events, until=events[-1].seq)
    took = time.perf_counter() - start
    counts: dict[str, int] = {}
    for task in view.tasks.values():
        counts[task.state.value] = counts.get(task.state.value, 0) + 1
    return took, counts == board_counts


# --- costs that may grow with the run -------------------------------------------------


async def add_tasks_seconds(board: Board, run_id: str, tag: str, count: int = 100) -> float:
    """Seconds for one ``add_tasks`` of ``count`` new tasks to the run."""
    new = [{**t, "id": f"{tag}-{t['id']}"} for t in specs(0, count)]
    start = time.perf_counter()
    await board.add_tasks(run_id, new, actor=ME)
    return time.perf_counter() - start


async def paused_ahead(
    board: Board,
    big_run: str,
    claims_max: int,
    budget_s: float,
    during: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Claims across runs while the board's big run is paused (its ready tasks stay in
    the claim index, ahead of a small active run's): up to ``claims_max`` claims or
    ``budget_s`` seconds, then the same claims scoped to the small run; then ``during``
    (untimed here), while the board is still in that shape."""
    await board.pause_run(big_run, actor=ME, reason="scale benchmark: a paused run ahead")
    small = await board.create_run(flat_plan(0, 50, goal="scale benchmark: small"), actor=ME)
    try:
        across: list[float] = []
        deadline = time.perf_counter() + budget_s
        while len(across) < claims_max and time.perf_counter() < deadline:
            await claims(board, 1, across)
        scoped: list[float] = []
        await claims(board, max(len(across), 20), scoped, run_id=small.id)
        out = {"across_runs": summary_ms(across), "run_scoped": summary_ms(scoped)}
        if during is not None:  # the raw experiment, on the board in this very shape
            out["raw"] = during()
        return out
    finally:
        await board.cancel_run(small.id, actor=ME)
        await board.resume_run(big_run, actor=ME)


async def count_by_state(board: Board, run_id: str) -> dict[str, int]:
    return {k: v for k, v in (await board.count_by_state(run_id)).items() if v}
