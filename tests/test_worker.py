"""The worker: hosts agents, claims work for their roles, keeps leases alive, hands the
results back with the fencing token, and shuts down gracefully.

These tests use real time (short leases, agents that sleep to simulate work) on a real
SQLite file; a second board on the same file, with its own clock, plays the other
participants.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from baton import Board, InvalidArgument, Run, SyncBoard, TaskState
from baton.model import RunState
from baton.runtime.agents.context import TaskContext
from baton.runtime.worker import Worker
from tests.helpers import ManualClock, plan, task

T = TypeVar("T")


def _run(main: Callable[[Board], Awaitable[T]], store_url: str, timeout: float = 30) -> T:
    """Run ``main(board)`` on a real-clock board, in one event loop."""

    async def wrapper() -> T:
        board = Board.open(store_url)
        try:
            return await asyncio.wait_for(main(board), timeout)
        finally:
            await board.close()

    return asyncio.run(wrapper())


def _events_of(events: list[Any], task_id: str, kind: str) -> list[Any]:
    return [e for e in events if e.task_id == task_id and e.kind == kind]


# --- which runs a worker takes --------------------------------------------------------------


def test_a_worker_refuses_a_run_none_of_whose_roles_it_serves(store_url: str) -> None:
    async def main(board: Board) -> None:
        run = await board.create_run(plan(task("a", "dev"), roles=("planner", "dev")))
        before = await board.store.snapshot()
        worker = Worker(board, {"designer": lambda c: 1, "ux": lambda c: 2}, name="w1")
        with pytest.raises(InvalidArgument) as info:
            await worker.run(run_id=run.id)
        text = str(info.value)
        for role in ("designer", "ux", "planner", "dev"):
            assert repr(role) in text, f"{role!r} not named in {text}"
        assert run.id in text
        assert await board.store.snapshot() == before

    _run(main, store_url)


def test_a_worker_serving_some_roles_of_a_run_works_those(store_url: str) -> None:
    async def main(board: Board) -> None:
        run = await board.create_run(plan(task("a", "dev"), task("b", "qa"), roles=("dev", "qa")))
        worker = Worker(board, {"dev": lambda c: {"by": "dev"}, "ux": lambda c: 0}, name="w1")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        async for e in board.subscribe(run_id=run.id, kinds=("task.complete",)):
            assert e.task_id == f"{run.id}/a"
            break
        stop.set()
        await running
        assert (await board.get_task(f"{run.id}/a")).output == {"by": "dev"}
        assert (await board.get_task(f"{run.id}/b")).state is TaskState.READY

    _run(main, store_url)


# --- what an agent is given -------------------------------------------------------------


def test_the_context_carries_dependencies_feedback_messages_and_budget(store_url: str) -> None:
    seen: list[TaskContext] = []

    async def main(board: Board) -> None:
        run = await board.create_run(
            {
                **plan(
                    task("a"),
                    task("b", on_failure="continue"),
                    task(
                        "c",
                        "writer",
                        deps=("a", "b"),
                        reviewer_role="reviewer",
                        budget={"tokens": 300},
                        input={"topic": "release notes"},
                    ),
                    roles=("worker", "writer", "reviewer"),
                ),
                "budget": {"tokens": 1000, "cost_usd": 2.0},
            }
        )
        a = await board.claim("w0", ["worker"])
        assert a is not None
        await board.record_usage(
            a.task.id, model="m", input_tokens=60, output_tokens=40, actor="w0"
        )
        await board.submit(a.task.id, a.token, {"schema": "v2"}, participant="w0")
        b = await board.claim("w0", ["worker"])
        assert b is not None
        await board.fail(b.task.id, b.token, "no data", participant="w0", retryable=False)
        c = await board.claim("w0", ["writer"])
        assert c is not None
        await board.record_usage(
            c.task.id, model="m", input_tokens=30, output_tokens=20, cost_usd=0.5, actor="w0"
        )
        await board.submit(c.task.id, c.token, {"text": "v1"}, participant="w0")
        await board.reject(c.task.id, ["too short", "no links"], actor="rev")
        await board.post_message(run.id, "note", {"text": "ship by Friday"}, sender="lead")

        async def writer(ctx: TaskContext) -> dict[str, Any]:
            seen.append(ctx)
            return {"text": "v2"}

        worker = Worker(board, {"writer": writer}, name="w1")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        async for e in board.subscribe(run_id=run.id, kinds=("task.submit_for_review",)):
            if e.actor == "w1":
                break
        stop.set()
        await running

    _run(main, store_url)
    (ctx,) = seen
    assert ctx.task.key == "c"
    assert ctx.input == {"topic": "release notes"}
    assert set(ctx.dependencies) == {"a", "b"}
    assert ctx.dependencies["a"].state is TaskState.DONE
    assert ctx.dependencies["a"].output == {"schema": "v2"}
    assert ctx.dependencies["b"].state is TaskState.FAILED
    assert ctx.dependencies["b"].error == {"kind": "error", "message": "no data"}
    assert [f["items"] for f in ctx.feedback] == [["too short", "no links"]]
    assert ctx.feedback[0]["by"] == "rev"
    notes = [m for m in ctx.messages if m.kind == "message.note"]
    assert [m.payload["body"]["text"] for m in notes] == ["ship by Friday"]
    # run: 1000 - (100 + 50) = 850 tokens, 2.0 - 0.5 = 1.5 USD; task: 300 - 50 = 250 tokens
    assert ctx.budget.tokens == 250
    assert ctx.budget.cost_usd == pytest.approx(1.5)
    card = ctx.card()
    assert card["review_feedback"] == [{"round": 1, "issues": ["too short", "no links"]}]
    assert card["dependencies"]["a"]["output"] == {"schema": "v2"}
    assert card["attempt"] == 2


def test_an_agent_hands_work_to_another_role_through_the_board(store_url: str) -> None:
    """Peer-to-peer: no planner; the dev agent adds a QA task depending on its own."""

    async def dev(ctx: TaskContext) -> dict[str, Any]:
        await ctx.add_tasks(
            [{"id": f"check-{ctx.task.key}", "role": "qa", "depends_on": [ctx.task.key]}]
        )
        await ctx.post_message("handoff", {"to_role": "qa", "summary": "please check"})
        return {"built": ctx.task.key}

    def qa(ctx: TaskContext) -> dict[str, Any]:
        (dep,) = ctx.dependencies.values()
        handoffs = [m for m in ctx.messages if m.kind == "message.handoff"]
        return {"checked": dep.output, "handoffs": len(handoffs)}

    async def main(board: Board) -> dict[str, Any]:
        run = await board.create_run(plan(task("api", "dev"), roles=("dev", "qa")))
        worker = Worker(board, {"dev": dev, "qa": qa}, name="w1")
        await worker.run(run_id=run.id)
        assert (await board.get_run(run.id)).state is RunState.FINISHED
        return {t.key: t for t in await board.tasks(run.id)}

    tasks = _run(main, store_url)
    assert set(tasks) == {"api", "check-api"}
    assert tasks["check-api"].output == {"checked": {"built": "api"}, "handoffs": 1}


def test_a_worker_stops_claiming_on_a_paused_run_and_goes_on_when_resumed(
    store_url: str,
) -> None:
    async def spend(ctx: TaskContext) -> dict[str, Any]:
        if ctx.task.key == "a":
            await ctx.record_usage(model="m", input_tokens=100, output_tokens=50)
        return {"by": ctx.task.key}

    async def main(board: Board) -> None:
        run = await board.create_run(
            {**plan(task("a"), task("b", deps=("a",))), "budget": {"tokens": 100}}
        )
        worker = Worker(board, {"worker": spend}, name="w1", idle_wait_s=0.2)
        running = asyncio.create_task(worker.run(run_id=run.id))
        async for _ in board.subscribe(run_id=run.id, kinds=("task.complete",)):
            break
        # the work in hand landed; nothing new is claimed while the run is paused
        assert (await board.get_task(f"{run.id}/a")).output == {"by": "a"}
        assert (await board.get_run(run.id)).state is RunState.PAUSED
        seen = [
            e.kind
            async for e in board.subscribe(
                since=(await board.store.last_seq()),
                run_id=run.id,
                kinds=("task.claim",),
                idle_timeout=0.6,
            )
        ]
        assert seen == []
        assert not running.done()
        await board.resume_run(run.id, actor="human:ann", budget={"tokens": 10_000})
        await asyncio.wait_for(running, 10)
        assert (await board.get_task(f"{run.id}/b")).output == {"by": "b"}
        assert (await board.get_run(run.id)).state is RunState.FINISHED

    _run(main, store_url)


def test_an_idle_worker_forgets_old_idempotency_keys_without_an_orchestrator(
    store_url: str,
) -> None:
    clock = ManualClock()

    async def main() -> None:
        board = Board.open(store_url, clock=clock)
        try:
            old = await board.create_run(plan(task("a", "reviewer")), idempotency_key="old")
            clock.advance(8 * 86400)
            await board.create_run(plan(task("b", "reviewer")), idempotency_key="new")
            # The watchdog duty's own escalations would add keys: this is the worker's prune.
            worker = Worker(
                board, {"worker": lambda ctx: {}}, name="w1", idle_wait_s=0.05, watchdog=False
            )
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop=stop))
            async with asyncio.timeout(10):  # idle at once: nothing is for role "worker"
                while len((await board.store.snapshot())["idempotency"]) > 1:
                    await asyncio.sleep(0.01)  # polling the store for the prune we wait for
            stop.set()
            await asyncio.wait_for(running, 10)
            (kept,) = (await board.store.snapshot())["idempotency"]
            assert kept[0] == "new"
            # a replay of the forgotten key is a new request now, not the old answer
            again = await board.create_run(plan(task("a", "reviewer")), idempotency_key="old")
            assert again.id != old.id
        finally:
            await board.close()

    asyncio.run(main())


# --- leases: heartbeats, loss ------------------------------------------------------------


def test_a_heartbeat_keeps_a_long_tasks_lease_past_lease_s(store_url: str) -> None:
    async def main(board: Board) -> list[Any]:
        run = await board.create_run(plan(task("long", lease_s=0.3, backoff_base_s=0)))

        async def slow(ctx: TaskContext) -> dict[str, Any]:
            await asyncio.sleep(1.0)  # simulated work, more than three leases long
            return {"done": True}

        worker = Worker(board, {"worker": slow}, name="w1")
        # another participant reaping all the while: an unrenewed lease would be taken
        other = Board.open(store_url)
        running = asyncio.create_task(worker.run(run_id=run.id))
        reaped = []
        try:
            while not running.done():
                reaped += await other.reap_expired(actor="reaper")
                await asyncio.wait({running}, timeout=0.05)
        finally:
            await other.close()
        await running
        assert reaped == []
        long = await board.get_task(f"{run.id}/long")
        assert long.state is TaskState.DONE
        assert long.output == {"done": True}
        assert long.attempts == 1
        assert (await board.get_run(run.id)).state is RunState.FINISHED
        return await board.events(run.id)

    events = _run(main, store_url)
    tid = events[0].run_id + "/long"
    assert len(_events_of(events, tid, "task.claim")) == 1
    assert len(_events_of(events, tid, "task.lease_renewed")) >= 3
    assert _events_of(events, tid, "task.retry") == []


async def _steal(store_url: str, task_id: str, *, delay_s: float = 1000) -> Board:
    """Another participant, whose clock says the lease expired long ago, reclaims."""
    thief = Board.open(store_url, clock=ManualClock(time.time() + delay_s))
    returned = await thief.reap_expired(actor="reaper")
    assert [t.id for t in returned] == [task_id]
    lease = await thief.claim("thief", ["worker"], lease_s=10_000)
    assert lease is not None
    assert lease.task.id == task_id
    return thief


def test_an_agent_whose_lease_is_lost_is_cancelled_and_its_result_never_lands(
    store_url: str,
) -> None:
    started, cancelled, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def main(board: Board) -> None:
        run = await board.create_run(plan(task("a", lease_s=0.3, backoff_base_s=0)))
        tid = f"{run.id}/a"

        async def agent(ctx: TaskContext) -> dict[str, Any]:
            started.set()
            try:
                await asyncio.sleep(2.0)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            finished.set()
            return {"by": "w1"}

        worker = Worker(board, {"worker": agent}, name="w1")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        await asyncio.wait_for(started.wait(), 5)
        thief = await _steal(store_url, tid)
        try:
            await asyncio.wait_for(cancelled.wait(), 5)
            t = await thief.get_task(tid)
            await thief.submit(tid, t.token, {"by": "thief"}, participant="thief")
        finally:
            await thief.close()
        stop.set()
        await running

        a = await board.get_task(tid)
        assert a.state is TaskState.DONE
        assert a.output == {"by": "thief"}
        events = await board.events(run.id)
        assert [e.actor for e in _events_of(events, tid, "task.complete")] == ["thief"]
        assert not finished.is_set()

    _run(main, store_url)


def test_a_worker_goes_on_working_after_losing_a_lease(store_url: str) -> None:
    started = asyncio.Event()

    async def main(board: Board) -> None:
        run = await board.create_run(
            plan(task("a", lease_s=0.3, backoff_base_s=0), task("b", priority=-1, lease_s=0.3))
        )
        tid = f"{run.id}/a"

        async def agent(ctx: TaskContext) -> dict[str, Any]:
            if ctx.task.key == "a":
                started.set()
                await asyncio.sleep(5.0)
            return {"by": "w1"}

        worker = Worker(board, {"worker": agent}, name="w1")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        await asyncio.wait_for(started.wait(), 5)
        thief = await _steal(store_url, tid)
        try:
            t = await thief.get_task(tid)
            await thief.submit(tid, t.token, {"by": "thief"}, participant="thief")
        finally:
            await thief.close()
        try:
            finished = await board.wait_finished(run.id, timeout=2)
            assert finished.state is RunState.FINISHED
            assert (await board.get_task(f"{run.id}/b")).output == {"by": "w1"}
        finally:
            stop.set()
            await running

    _run(main, store_url)


def test_an_agent_past_its_timeout_is_cancelled_and_the_attempt_fails(store_url: str) -> None:
    cancelled = asyncio.Event()

    async def main(board: Board) -> None:
        run = await board.create_run(plan(task("a", timeout_s=0.2, backoff_base_s=30)))

        async def agent(ctx: TaskContext) -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        worker = Worker(board, {"worker": agent}, name="w1")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        async for _ in board.subscribe(run_id=run.id, kinds=("task.retry",)):
            break
        stop.set()
        await running
        assert cancelled.is_set()
        a = await board.get_task(f"{run.id}/a")
        assert a.state is TaskState.READY
        assert a.failures == 1
        assert a.last_error is not None
        assert a.last_error["kind"] == "timeout"

    _run(main, store_url)


# --- graceful shutdown --------------------------------------------------------------------


def test_on_stop_the_running_agent_finishes_within_grace_and_nothing_new_is_claimed(
    store_url: str,
) -> None:
    started = asyncio.Event()
    calls: list[str] = []

    async def main(board: Board) -> Run:
        run = await board.create_run(plan(task("a"), task("b"), task("c")))

        async def agent(ctx: TaskContext) -> dict[str, Any]:
            calls.append(ctx.task.key)
            started.set()
            await asyncio.sleep(0.5)
            return {"by": "w1"}

        worker = Worker(board, {"worker": agent}, name="w1", grace_s=10)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        await asyncio.wait_for(started.wait(), 5)
        stop.set()
        t0 = time.monotonic()
        await running
        assert time.monotonic() - t0 < 5
        return run

    run = _run(main, store_url)
    assert calls == ["a"]
    with SyncBoard.open(store_url) as board:
        tasks = {t.key: t for t in board.tasks(run.id)}
        assert tasks["a"].state is TaskState.DONE
        assert tasks["a"].output == {"by": "w1"}
        for key in ("b", "c"):
            assert tasks[key].state is TaskState.READY
            assert tasks[key].attempts == 0
        assert [e.kind for e in board.events(run.id)].count("task.claim") == 1


def test_an_agent_outliving_the_grace_period_is_cancelled_and_its_lease_released(
    store_url: str,
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def main(board: Board) -> tuple[Run, float]:
        run = await board.create_run(plan(task("a"), task("b")))

        async def agent(ctx: TaskContext) -> dict[str, Any]:
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return {"never": True}

        worker = Worker(board, {"worker": agent}, name="w1", grace_s=0.3)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(run_id=run.id, stop=stop))
        await asyncio.wait_for(started.wait(), 5)
        t0 = time.monotonic()
        stop.set()
        await running
        return run, time.monotonic() - t0

    run, took = _run(main, store_url)
    assert cancelled.is_set()
    assert 0.3 <= took < 3
    with SyncBoard.open(store_url) as board:
        a = board.get_task(f"{run.id}/a")
        assert a.state is TaskState.READY
        assert a.attempts == 0  # a release is not a failed attempt
        assert a.failures == 0
        assert a.lease_owner is None
        assert a.output is None
        last = [e for e in board.events(run.id) if e.task_id == a.id][-1]
        assert last.kind == "task.release"
        assert last.actor == "w1"
        assert board.get_task(f"{run.id}/b").state is TaskState.READY
        # anyone may take it straight away
        again = board.claim("w2", ["worker"], run_id=run.id)
        assert again is not None
        assert again.task.key == "a"


# --- the CLI worker, as a process ------------------------------------------------------------


def _baton_worker(
    tmp_path: Path, *args: str, columns: str | None = "200"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "baton", "worker", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )


@pytest.fixture
def cli_run(tmp_path: Path) -> tuple[str, str]:
    db = str(tmp_path / "cli.db")
    with SyncBoard.open(db) as board:
        run = board.create_run(
            plan(task("a", "dev"), task("b", "qa", deps=("a",)), roles=("dev", "qa")),
            run_id="r1",
        )
    return db, run.id


UNIMPORTABLE = [
    pytest.param("", "no_such_agents_module", "ModuleNotFoundError", id="missing"),
    pytest.param(
        "import json\nraise RuntimeError('agents need an API key')\n",
        "broken_agents",
        "RuntimeError: agents need an API key",
        id="raises-on-import",
    ),
    pytest.param("def oops(:\n", "typo_agents", "SyntaxError", id="syntax-error"),
]


@pytest.mark.parametrize(("source", "module", "error"), UNIMPORTABLE)
def test_cli_worker_with_an_unimportable_agent_module_exits_2_in_one_line(
    tmp_path: Path, cli_run: tuple[str, str], source: str, module: str, error: str
) -> None:
    db, run_id = cli_run
    if source:
        (tmp_path / f"{module}.py").write_text(source)
    r = _baton_worker(tmp_path, "--agents", f"{module}:agents", "--db", db, "--run", run_id)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert repr(module) in lines[0]
    assert error in lines[0]
    assert "Traceback" not in r.stderr


def test_cli_errors_stay_on_one_line_at_the_default_width(
    tmp_path: Path, cli_run: tuple[str, str]
) -> None:
    db, run_id = cli_run
    r = _baton_worker(
        tmp_path,
        "--agents",
        "no_such_agents_module:agents",
        "--db",
        db,
        "--run",
        run_id,
        columns=None,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_worker_serving_no_role_of_the_run_exits_2_naming_the_roles(
    tmp_path: Path, cli_run: tuple[str, str]
) -> None:
    db, run_id = cli_run
    (tmp_path / "design_team.py").write_text(
        "from __future__ import annotations\n"
        "agents = {'designer': lambda ctx: {}, 'ux': lambda ctx: {}}\n"
    )
    with SyncBoard.open(db) as board:
        before = board.snapshot()
    r = _baton_worker(tmp_path, "--agents", "design_team:agents", "--db", db, "--run", run_id)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for role in ("designer", "ux", "dev", "qa"):
        assert repr(role) in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    with SyncBoard.open(db) as board:
        assert board.snapshot() == before


def test_cli_worker_works_a_run_to_the_end_and_exits_0(
    tmp_path: Path, cli_run: tuple[str, str]
) -> None:
    db, run_id = cli_run
    (tmp_path / "team.py").write_text(
        "from __future__ import annotations\n"
        "agents = {\n"
        "    'dev': lambda ctx: {'built': ctx.task.key},\n"
        "    'qa': lambda ctx: {'checked': sorted(ctx.dependencies)},\n"
        "}\n"
    )
    r = _baton_worker(
        tmp_path, "--agents", "team:agents", "--db", db, "--run", run_id, "--name", "cli-w"
    )
    assert r.returncode == 0, r.stderr
    with SyncBoard.open(db) as board:
        assert board.get_run(run_id).state is RunState.FINISHED
        assert board.get_task(f"{run_id}/b").output == {"checked": ["a"]}
        claims = [e for e in board.events(run_id) if e.kind == "task.claim"]
        assert {e.actor for e in claims} == {"cli-w"}


SLOW_AGENTS = {
    "async": "import asyncio\nasync def build(ctx):\n    await asyncio.sleep(60)\n",
    "sync": "import time\ndef build(ctx):\n    time.sleep(60)\n",
}


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_cli_worker_on_sigterm_releases_a_long_task_after_the_grace_period(
    tmp_path: Path, cli_run: tuple[str, str], kind: str
) -> None:
    db, run_id = cli_run
    (tmp_path / "slow_team.py").write_text(
        f"from __future__ import annotations\n{SLOW_AGENTS[kind]}agents = {{'dev': build}}\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    command = ["worker", "--agents", "slow_team:agents", "--db", db, "--run", run_id]
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", *command, "--name", "cli-w", "--grace-s", "0.5"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with SyncBoard.open(db) as board:
            claims = board.subscribe(run_id=run_id, kinds=("task.claim",), idle_timeout=20)
            assert isinstance(claims, Generator), type(claims)  # closed once read from
            first = next(claims)
            claims.close()
            assert first.actor == "cli-w"
            proc.terminate()
            _out, err = proc.communicate(timeout=5)  # grace 0.5 s, then release and exit
            assert proc.returncode == 0, err
            a = board.get_task(f"{run_id}/a")
            assert a.state is TaskState.READY
            assert a.attempts == 0
            assert [e.kind for e in board.events(run_id) if e.task_id == a.id][-1] == (
                "task.release"
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
