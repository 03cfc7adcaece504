"""One store's whole measurement for bench/scale.py: build every size, then measure
them, interleaving sizes wherever a figure is compared across sizes.

Order matters and is fixed: claims (the board keeps its size), lifecycles (they finish
a few hundred tasks), the documented Worker (a few hundred more), the killed worker and
the restart (the reaped tasks are ready again), opening, the event log (nothing else on
the board yet, so the run's log is gap-free and replays), then the probes that change
the board's shape (``add_tasks``, a paused run ahead).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import _scale_build as build
import _scale_measure as m
import _scale_raw as raw
import _scale_stores as stores
from _scale_stores import Target
from rich.console import Console

from baton.board import Board

err = Console(stderr=True, highlight=False)
REVIEW_ALERT = 2  # the Orchestrator's default review_alert, what its passes ask for


@dataclass(frozen=True)
class Plan:
    """How much to measure at every size."""

    sizes: tuple[int, ...]
    chunk: int  # tasks per create_run/add_tasks call while building (0: one call)
    claims: int  # timed claims per size and mode
    warmup: int
    lifecycles: int
    worker_tasks: int  # tasks the documented Worker completes per size
    raw_reads: int
    open_reps: int
    resume_leases: int  # the killed worker's leases (at most half the board)
    paused_claims: int  # claims across runs with a paused run ahead (time-boxed)
    paused_budget_s: float
    compare_size: int  # build alternatives compared at this size (0: not compared)
    compare_per_call: int


def say(text: str) -> None:
    err.print(f"  [dim]{time.strftime('%H:%M:%S')}[/] {text}")


def build_all(targets: dict[int, Target], plan: Plan) -> dict[int, build.Built]:
    out = {}
    for size, target in targets.items():
        say(f"{target.store}: building {size:,} tasks (chunks of {plan.chunk or size:,})")
        out[size] = build.build("one_run", target.url, size, plan.chunk)
        say(f"  built in {out[size].seconds:.1f}s ({out[size].tasks_per_s:,.0f} tasks/s)")
    return out


def size_report(target: Target, tasks: int, events: int) -> dict[str, Any]:
    """Bytes on disk, whole and per 1,000 tasks / events (tables with their indexes)."""
    found = stores.sizes(target)
    task_bytes = found.get("table:tasks", 0) + found.get("table:deps", 0)
    event_bytes = found.get("table:events", 0)
    return {
        "total_bytes": stores.total_bytes(found),
        "tasks": tasks,
        "events": events,
        "bytes_per_1000_tasks": task_bytes / tasks * 1000,
        "bytes_per_1000_events": event_bytes / events * 1000,
        "store_bytes_per_1000_tasks": stores.total_bytes(found) / tasks * 1000,
        "detail": found,
    }


async def _claim_phase(
    boards: dict[int, Board], runs: dict[int, str], plan: Plan
) -> dict[str, dict[int, list[float]]]:
    out = {}
    for mode, scoped in (("across_runs", False), ("run_scoped", True)):
        steps: dict[int, m.Step] = {
            size: partial(m.claims, board, run_id=runs[size] if scoped else None)
            for size, board in boards.items()
        }
        await m.interleaved(steps, plan.warmup, plan.warmup)  # warm caches, untimed
        out[mode] = await m.interleaved(steps, plan.claims, 50)
    lives: dict[int, m.Step] = {
        size: partial(m.lifecycles, board, run_id=runs[size]) for size, board in boards.items()
    }
    out["lifecycle"] = await m.interleaved(lives, plan.lifecycles, 100)
    return out


def claim_phase(
    targets: dict[int, Target], runs: dict[int, str], plan: Plan
) -> dict[str, dict[int, list[float]]]:
    """Claim latency (across runs and scoped to the run) and claim + submit lifecycles,
    the sizes taking turns in chunks, every board open at once."""

    async def go() -> dict[str, dict[int, list[float]]]:
        boards = {size: Board.open(t.url, create=False) for size, t in targets.items()}
        try:
            return await _claim_phase(boards, runs, plan)
        finally:
            for board in boards.values():
                await board.close()

    return asyncio.run(go())


def raw_phase(targets: dict[int, Target], runs: dict[int, str], plan: Plan) -> dict[str, Any]:
    """The raw index seek and Baton's own claim query through the bare driver."""
    seek = {size: raw.seek_samples(t, plan.raw_reads) for size, t in targets.items()}
    find = {size: raw.find_samples(t, plan.raw_reads) for size, t in targets.items()}
    return {"seek": seek, "find": find}


def with_board(url: str, work: Callable[[Board], Any]) -> Any:
    async def go() -> Any:
        board = Board.open(url, create=False)
        try:
            return await work(board)
        finally:
            await board.close()

    return asyncio.run(go())


def events_phase(target: Target, run_id: str) -> dict[str, Any]:
    """The run's whole log through ``Board.events``, the same pages raw, and replay."""

    async def read(board: Board) -> tuple[list[Any], float, float, dict[str, int]]:
        _, streamed, streamed_s = await m.read_log(board, run_id, keep=False)
        found, _, took = await m.read_log(board, run_id, keep=True)
        assert len(found) == streamed
        return found, streamed_s, took, await m.count_by_state(board, run_id)

    events, streamed_s, took, counts = with_board(target.url, read)
    replay_s, agrees = m.replay_seconds(events, counts)
    count = len(events)
    del events
    gc.collect()
    raw_count, raw_s = raw.page_all(target, run_id, m.PAGE)
    return {
        "events": count,
        "page": m.PAGE,
        "board_events_streamed_s": streamed_s,
        "board_events_streamed_per_s": count / streamed_s,
        "board_events_s": took,
        "board_events_per_s": count / took,
        "raw_page_s": raw_s,
        "raw_events_per_s": raw_count / raw_s,
        "board_to_raw": (count / took) / (raw_count / raw_s),
        "replay_s": replay_s,
        "replay_events_per_s": count / replay_s,
        "replay_agrees_with_board": agrees,
    }


def open_phase(target: Target, run_id: str, reps: int) -> dict[str, Any]:
    took = asyncio.run(m.open_seconds(target.url, run_id, reps))
    raw_took = []
    for _ in range(reps):
        start = time.perf_counter()
        conn = target.raw()
        conn.execute("SELECT id FROM runs LIMIT 1").fetchone()
        raw_took.append(time.perf_counter() - start)
        conn.close()
    return {
        "open_ms_median": statistics.median(took) * 1e3,
        "open_ms_all": [round(t * 1e3, 2) for t in took],
        "raw_connect_ms_median": statistics.median(raw_took) * 1e3,
    }


def probes(target: Target, run_id: str, plan: Plan) -> dict[str, Any]:
    """Costs that may grow with the run, each beside its raw experiment: one add_tasks
    of 100 (and what it reads first); claims with the run paused ahead of a small one;
    the watchdog's ``watched_tasks`` query."""

    async def go(board: Board) -> dict[str, Any]:
        add_s = await m.add_tasks_seconds(board, run_id, "probe")
        keys = [f"probe-t{i}" for i in range(100)]
        reads = raw.add_tasks_reads(target, run_id, keys)
        paused = await m.paused_ahead(
            board,
            run_id,
            plan.paused_claims,
            plan.paused_budget_s,
            during=partial(
                raw.paused_experiment, target, run_id, plan.paused_claims, plan.paused_budget_s
            ),
        )
        watched = raw.watched_experiment(target, run_id, REVIEW_ALERT, plan.paused_claims)
        return {
            "add_tasks_100_s": add_s,
            "add_tasks_reads": reads,
            "paused_run_ahead": paused,
            "watched_tasks": watched,
        }

    return with_board(target.url, go)


def plans_of(target: Target, run_id: str) -> dict[str, str]:
    """The database's plans of the claim queries on this board."""
    now = time.time()
    return {
        "find_claimable": raw.explain(target, "find_claimable", (raw.ROLE, now, "")),
        "find_claimable_in_run": raw.explain(
            target, "find_claimable_in_run", (run_id, raw.ROLE, now, "")
        ),
    }


def compare_builds(home: Any, plan: Plan) -> dict[str, Any]:
    """The ways through the public API to a board of ``compare_size`` tasks, each on a
    scratch store of its own: runs of ``compare_per_call`` tasks (the default limits);
    one run from create_run + add_tasks of ``compare_per_call`` each; one create_run."""
    size, per = plan.compare_size, plan.compare_per_call
    out: dict[str, Any] = {}
    for name, kind, chunk in (
        ("many_runs", "many_runs", per),
        ("one_run_add_tasks", "one_run", per),
        ("one_create_run", "one_run", 0),
    ):
        target = home.target(size, f"-cmp-{name}")
        try:
            say(f"{target.store}: build alternative {name} ({size:,} tasks)")
            got = build.build(kind, target.url, size, chunk)
            out[name] = {
                "seconds": got.seconds,
                "tasks_per_s": got.tasks_per_s,
                "calls": [{"call": c, "tasks": n, "s": round(s, 3)} for c, n, s in got.calls],
            }
        except RuntimeError as failed:
            out[name] = {"error": str(failed)}
        finally:
            home.drop(target)
    return out


def measure_store(home: Any, plan: Plan) -> dict[str, Any]:
    """Everything for one store (``home``: a SqliteHome or a PgServer)."""
    targets = {size: home.target(size) for size in plan.sizes}
    built = build_all(targets, plan)
    runs = {size: b.run_ids[0] for size, b in built.items()}
    rows: dict[int, dict[str, Any]] = {size: {} for size in plan.sizes}
    for size, target in targets.items():
        rows[size]["build"] = {
            "seconds": built[size].seconds,
            "tasks_per_s": built[size].tasks_per_s,
            "calls": [{"call": c, "tasks": n, "s": round(s, 3)} for c, n, s in built[size].calls],
        }
        rows[size]["disk_after_build"] = size_report(target, size, size + 1)
        rows[size]["claim_plans"] = plans_of(target, runs[size])
    say(f"{home_name(targets)}: claims and lifecycles")
    timed = claim_phase(targets, runs, plan)
    rawest = raw_phase(targets, runs, plan)
    for size in plan.sizes:
        for mode in ("across_runs", "run_scoped", "lifecycle"):
            rows[size][f"claim_{mode}" if mode != "lifecycle" else mode] = m.summary_ms(
                timed[mode][size]
            )
        life = timed["lifecycle"][size]
        rows[size]["lifecycle"]["per_s"] = len(life) / sum(life)
        rows[size]["raw_seek"] = m.summary_ms(rawest["seek"][size])
        rows[size]["raw_find_claimable"] = m.summary_ms(rawest["find"][size])
    for size, target in targets.items():
        say(f"{target.store} {size:,}: a Worker completing {plan.worker_tasks:,} tasks")
        drained = asyncio.run(m.worker_drain(target.url, runs[size], plan.worker_tasks))
        rows[size]["worker"] = {**asdict(drained), "per_s": drained.per_s}
    for size, target in targets.items():
        ready = with_board(target.url, partial(m.count_by_state, run_id=runs[size]))["ready"]
        leases = min(plan.resume_leases, ready // 2)  # the rest stays claimable
        say(f"{target.store} {size:,}: killed worker with {leases:,} leases, restart")
        rows[size]["resume"] = asdict(asyncio.run(m.resume(target.url, runs[size], leases)))
        rows[size]["open"] = open_phase(target, runs[size], plan.open_reps)
        say(f"{target.store} {size:,}: the event log")
        rows[size]["events"] = events_phase(target, runs[size])
        tasks = size  # the reaped and released tasks are still the run's N
        rows[size]["disk_after_measuring"] = size_report(
            target, tasks, rows[size]["events"]["events"]
        )
        say(f"{target.store} {size:,}: add_tasks and a paused run ahead")
        rows[size]["probes"] = probes(target, runs[size], plan)
    out: dict[str, Any] = {"sizes": {str(s): rows[s] for s in plan.sizes}}
    if plan.compare_size:
        out["build_compare"] = compare_builds(home, plan)
    for target in targets.values():
        home.drop(target)
    return out


def home_name(targets: dict[int, Target]) -> str:
    return next(iter(targets.values())).store


def sqlite_settings(home: Any) -> dict[str, Any]:
    """What the SQLite boards run with: the library, and Baton's own settings."""
    import sqlite3

    return {
        "sqlite_version": sqlite3.sqlite_version,
        "baton_pragmas": "journal_mode=WAL, synchronous=NORMAL (the default durability)",
        "raw_connections": "sqlite3 defaults, autocommit, reads only",
    }


METHOD = {
    "board": "one run of N independent ready tasks of one role, built with create_run + "
    "add_tasks of Plan.chunk tasks each (Limits.max_tasks raised to the chunk), each size "
    "in a spawned process of its own; every size of a store built before any is measured",
    "claims": "Board.claim(participant, [role]) (any run) or with run_id (in run), one "
    "process, all sizes open at once taking turns in chunks of 50; each claim released "
    "untimed, so the board keeps its size; warm-up claims not counted",
    "lifecycle": "claim + submit (no contract, no review: the task becomes done), timed "
    "together, sizes taking turns in chunks of 100; per_s = lifecycles / their summed time",
    "worker": "baton.Worker(board, {role: noop}, concurrency=1), watchdog duty on, on a "
    "freshly opened board; per_s = tasks completed / wall time of worker.run(run_id, stop) "
    "(stop set by the agent at the last task)",
    "raw": "seek: SELECT id FROM tasks WHERE queue_role = ? ORDER BY priority DESC, "
    "created_seq LIMIT 1; find: Baton's find_claimable query from queries.sql; both through "
    "the bare driver, autocommit, on the same store",
    "resume": "a worker takes the leases and dies (its leases of 1 s expire); then "
    "Board.open + get_run, reap_expired until nothing is left, one claim; watchdog pass: "
    "one Orchestrator.tick(run_id) as the Worker's duty runs it",
    "events": "Board.events(run_id, since, limit=1000) over the run's whole log; raw: the "
    "store's read_run_events query, rows left as tuples; replay: views.replay of the "
    "events read, checked against the board's counts by state",
    "disk": "SQLite: dbstat pages per b-tree (table and its indexes); PostgreSQL: "
    "pg_total_relation_size per table; tasks figure includes deps",
}
