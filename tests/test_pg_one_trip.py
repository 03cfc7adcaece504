"""The one-trip claim and submit on PostgreSQL: generated from the transition table, and
the same writes the Board's general path makes (the conformance suite runs over them
unchanged; here, the same scenario on SQLite's general path and PostgreSQL's one trip
gives the same events)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from baton import Board, ContractViolation, LeaseLost, NotFound, TaskState
from baton.model.events import TRANSITION_EVENT
from baton.model.states import TRANSITIONS, Action
from baton.store.postgres import PostgresStore
from baton.store.postgres.one_trip import (
    MIGRATION,
    claim_function_sql,
    migration_sql,
    submit_function_sql,
)
from baton.store.sqlite import SqliteStore
from tests.helpers import plan, task

SQL = Path(__file__).parents[1] / "src/baton/store/postgres/sql"


def test_the_migration_is_what_the_transition_table_generates() -> None:
    assert (SQL / MIGRATION).read_text() == migration_sql(), (
        "the transition table changed: regenerate the one-trip functions with "
        "`python -m baton.store.postgres.one_trip` into a new migration"
    )


def test_a_changed_table_changes_the_generated_sql() -> None:
    S = TRANSITIONS[(next(s for (s, a) in TRANSITIONS if a is Action.CLAIM), Action.CLAIM)]
    assert S is TaskState.RUNNING
    also_blocked = {**TRANSITIONS, (TaskState.BLOCKED, Action.CLAIM): TaskState.RUNNING}
    assert "'blocked', 'ready'" in claim_function_sql(also_blocked)
    elsewhere = {**TRANSITIONS, (TaskState.READY, Action.CLAIM): TaskState.AWAITING_APPROVAL}
    assert "state = 'awaiting_approval'" in claim_function_sql(elsewhere)
    renamed = {**TRANSITION_EVENT, Action.CLAIM: TRANSITION_EVENT[Action.RELEASE]}
    assert claim_function_sql(events=renamed) != claim_function_sql()
    with pytest.raises(ValueError, match="one state"):
        claim_function_sql({**also_blocked, (TaskState.BLOCKED, Action.CLAIM): TaskState.DONE})
    with pytest.raises(ValueError, match="queue"):
        claim_function_sql({(TaskState.READY, Action.CLAIM): TaskState.READY})


def test_a_changed_table_changes_the_generated_submit() -> None:
    assert "t.state NOT IN ('running')" in submit_function_sql()
    resumed = {**TRANSITIONS, (TaskState.BLOCKED, Action.COMPLETE): TaskState.DONE}
    assert "t.state NOT IN ('blocked', 'running')" in submit_function_sql(resumed)
    to_review = {**TRANSITIONS, (TaskState.RUNNING, Action.COMPLETE): TaskState.IN_REVIEW}
    assert "SET state = 'in_review'" in submit_function_sql(to_review)
    held = {**TRANSITIONS, (TaskState.PENDING, Action.DEPS_DONE): TaskState.BLOCKED}
    assert "SET state = 'blocked', queue_role = d.role" in submit_function_sql(held)
    renamed = {**TRANSITION_EVENT, Action.DEPS_DONE: TRANSITION_EVENT[Action.RELEASE]}
    assert submit_function_sql(events=renamed) != submit_function_sql()
    without = {k: v for k, v in TRANSITIONS.items() if k != (TaskState.PENDING, Action.DEPS_DONE)}
    with pytest.raises(ValueError):
        submit_function_sql(without)


def _board(url: str) -> Board:
    return Board(PostgresStore(url, max_connections=2, idle_check_s=3600), clock=lambda: 1000.25)


def test_a_one_trip_claim_writes_what_the_general_path_would(pg_url: str) -> None:
    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a", lease_s=45.5), task("b", deps=("a",))))
            lease = await board.claim("w1", "worker", run_id=run.id)
            assert lease is not None and lease.task.key == "a"
            assert (lease.token, lease.owner, lease.expires_at) == (1, "w1", 1045.75)
            stored = await board.get_task(lease.task.id)
            assert stored is not None and stored.model_dump() == lease.task.model_dump()
            assert stored.state is TaskState.RUNNING and stored.attempts == 1
            events = [e for e in await board.events(run.id) if e.kind == "task.claim"]
            assert [e.payload for e in events] == [
                {"from": "ready", "to": "running", "token": 1, "owner": "w1", "expires_at": 1045.75}
            ]
            assert events[0].at == 1000.25 and events[0].actor == "w1"
            assert await board.claim("w2", "worker") is None  # b waits on a: nothing to claim
            await board.submit(lease.task.id, lease.token, {"ok": 1}, participant="w1")
            second = await board.claim("w2", "worker", lease_s=7)
            assert second is not None and second.expires_at == 1007.25
            report = await board.verify_audit()
            assert report.ok, report  # the function's digests are what audit verify computes
            assert report.checked == len(await board.events(run.id)) + report.first_seq - 1
        finally:
            await board.close()

    asyncio.run(scenario())


def test_what_the_one_trip_claim_leaves_to_the_general_path(pg_url: str) -> None:
    async def scenario() -> None:
        board = _board(pg_url)
        try:
            with pytest.raises(NotFound, match="nope"):
                await board.claim("w1", "worker", run_id="nope")
            reviewed = plan(task("a", reviewer_role="reviewer"))
            run = await board.create_run(reviewed)
            lease = await board.claim("w1", "worker")
            assert lease is not None
            await board.submit(lease.task.id, lease.token, {"ok": 1}, participant="w1")
            review = await board.claim("rev", "reviewer")  # a review lease: general path
            assert review is not None and review.kind.value == "review"
            assert (await board.get_task(review.task.id)).state is TaskState.IN_REVIEW
            budgeted = {**plan(task("x"), task("y")), "budget": {"attempts": 1}}
            brun = await board.create_run(budgeted)
            first = await board.claim("w1", "worker", run_id=brun.id)
            assert first is not None
            assert await board.claim("w1", "worker", run_id=brun.id) is None  # budget used up
            assert (await board.get_run(brun.id)).state.value == "paused"
            assert (await board.get_run(brun.id)).claims == 1
            assert (await board.verify_audit()).ok
            assert run.id
        finally:
            await board.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("paused_ahead", [False, True], ids=["one-run", "past-a-paused-run"])
def test_sixteen_claimers_take_each_task_once_in_one_trip(pg_url: str, paused_ahead: bool) -> None:
    """Concurrent one-trip claims over one pool per task: SKIP LOCKED, one winner each —
    also on the path a claim with no run filter takes while a run is paused (a look per
    active run, each locking its best task), none of the paused run's tasks taken."""

    async def scenario() -> None:
        board = Board(PostgresStore(pg_url, max_connections=8, idle_check_s=3600))
        try:
            held = None
            if paused_ahead:
                held = await board.create_run(plan(*(task(f"p{i}") for i in range(50))))
                await board.pause_run(held.id, actor="human", reason="hold")
            runs = [await board.create_run(plan(*(task(f"t{i}") for i in range(100))))]
            runs += [await board.create_run(plan(*(task(f"t{i}") for i in range(100))))]
            only = None if paused_ahead else runs[0].id
            if not paused_ahead:
                runs = runs[:1]

            async def claimer(n: int) -> list[str]:
                got = []
                while (lease := await board.claim(f"w{n}", "worker", run_id=only)) is not None:
                    got.append(lease.task.id)
                return got

            claimed = [
                t for got in await asyncio.gather(*(claimer(n) for n in range(16))) for t in got
            ]
            assert sorted(claimed) == sorted({t.id for r in runs for t in await board.tasks(r.id)})
            if held is not None:
                assert {t.state for t in await board.tasks(held.id)} == {TaskState.READY}
            assert (await board.verify_audit()).ok
        finally:
            await board.close()

    asyncio.run(scenario())


def _work_through(board: Board) -> list[tuple[Any, ...]]:
    """One scenario, every call the one-trip path may take or hand on: a fan-out released
    by a submit, an independent task, a contract broken, a stale token, the run's last
    task (which finishes the run). Returns the run's events with the run id taken out."""

    async def scenario() -> list[tuple[Any, ...]]:
        contract = {"type": "object", "required": ["n"]}
        run = await board.create_run(
            plan(
                task("a"),
                task("b", deps=("a",)),
                task("c", deps=("a",), output_contract=contract, max_attempts=2, backoff_base_s=0),
                task("d", deps=("b", "c")),
            )
        )
        a = await board.claim("w1", "worker")
        assert a is not None
        with pytest.raises(LeaseLost):
            await board.submit(a.task.id, a.token + 1, {"x": 1}, participant="w1")
        await board.submit(a.task.id, a.token, {"x": 1}, participant="w1")
        b = await board.claim("w1", "worker")
        c = await board.claim("w2", "worker")
        assert b is not None and c is not None and (b.task.key, c.task.key) == ("b", "c")
        with pytest.raises(ContractViolation):
            await board.submit(c.task.id, c.token, {"no": 1}, participant="w2")
        await board.submit(b.task.id, b.token, {"x": 2}, participant="w1")
        c = await board.claim("w2", "worker")
        assert c is not None and c.token == 2
        await board.submit(c.task.id, c.token, {"n": 3}, participant="w2")
        d = await board.claim("w1", "worker")
        assert d is not None and d.task.key == "d"
        done = await board.submit(d.task.id, d.token, {"x": 4}, participant="w1")
        assert done.state is TaskState.DONE
        finished = await board.get_run(run.id)
        assert finished is not None and finished.state.value == "finished"
        assert (await board.verify_audit()).ok
        out = []
        for e in await board.events(run.id):
            text = str(e.payload).replace(run.id, "RUN")
            out.append((e.kind, (e.task_id or "").replace(run.id, "RUN"), e.actor, text, e.at))
        await board.close()
        return out

    return asyncio.run(scenario())


def test_the_one_trip_submit_writes_what_the_general_path_writes(
    pg_url: str, tmp_path: Path
) -> None:
    general = _work_through(Board(SqliteStore(tmp_path / "b.db"), clock=lambda: 1000.25))
    one_trip = _work_through(_board(pg_url))
    assert one_trip == general
    assert ("task.deps_done", "RUN/d", "w2") in [e[:3] for e in one_trip]
    assert one_trip[-1][0] == "run.finished"


def test_what_the_one_trip_submit_leaves_to_the_general_path(pg_url: str) -> None:
    """A review, an approval, an expanding task and a parent whose children are done are
    the general path's; so is a lease that expired or is not held."""

    async def scenario() -> None:
        now = [1000.0]
        board = Board(
            PostgresStore(pg_url, max_connections=2, idle_check_s=3600), clock=lambda: now[0]
        )
        try:
            run = await board.create_run(
                plan(
                    task("r", reviewer_role="reviewer"),
                    task("g", requires_approval=True),
                    task("p", expand=True),
                    task("late", lease_s=5),
                    task("after", deps=("p",)),
                )
            )
            states = {}
            for _ in range(4):
                lease = await board.claim("w1", "worker")
                assert lease is not None
                if lease.task.key == "late":
                    now[0] += 10
                    with pytest.raises(LeaseLost, match="expired"):
                        await board.submit(lease.task.id, lease.token, {}, participant="w1")
                    now[0] -= 10
                    continue
                output = (
                    {"tasks": [{"id": "kid", "role": "worker"}]} if lease.task.key == "p" else {}
                )
                states[lease.task.key] = (
                    await board.submit(lease.task.id, lease.token, output, participant="w1")
                ).state
            assert states == {
                "r": TaskState.IN_REVIEW,
                "g": TaskState.AWAITING_APPROVAL,
                "p": TaskState.PENDING,  # waits for its children
            }
            kid = await board.claim("w1", "worker")
            assert kid is not None and kid.task.key.endswith("kid")
            await board.submit(kid.task.id, kid.token, {"k": 1}, participant="w1")
            parent = await board.get_task(f"{run.id}/p")
            assert (
                parent is not None and parent.state is TaskState.DONE
            )  # finished by the general path
            after = await board.get_task(f"{run.id}/after")
            assert after is not None and after.state is TaskState.READY
            assert (await board.verify_audit()).ok
        finally:
            await board.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("hand_off", [False, True], ids=["submit", "submit_and_claim"])
def test_sixteen_workers_work_a_dag_in_one_trip_each_task_once(pg_url: str, hand_off: bool) -> None:
    """Claims and submits from 16 concurrent workers on a fan-in DAG: every task done once,
    every dependent released once, the run finished exactly once, the chain intact — and
    the same with each result handed in with the next claim (migration 0025)."""

    async def scenario() -> None:
        board = Board(PostgresStore(pg_url, max_connections=8, idle_check_s=3600))
        try:
            layer1 = [task(f"a{i}") for i in range(40)]
            layer2 = [task(f"b{i}", deps=(f"a{i}", f"a{(i + 1) % 40}")) for i in range(40)]
            run = await board.create_run(plan(*layer1, *layer2, task("z", deps=("b0", "b39"))))
            worked: list[str] = []

            async def worker(n: int) -> None:
                while True:
                    current = await board.get_run(run.id)
                    assert current is not None
                    if current.state.value != "active":
                        return
                    seen = await board.last_seq()
                    lease = await board.claim(f"w{n}", "worker", run_id=run.id)
                    if lease is None:
                        await board.wait_for_change(seen, timeout=5)  # the next commit
                        continue
                    while lease is not None:
                        worked.append(lease.task.key)
                        if not hand_off:
                            await board.submit(
                                lease.task.id, lease.token, {"n": n}, participant=f"w{n}"
                            )
                            break
                        handoff = await board.submit_and_claim(
                            lease.task.id, lease.token, {"n": n}, participant=f"w{n}",
                            roles="worker", run_id=run.id,
                        )  # fmt: skip
                        lease = handoff.lease

            await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(16))), 60)
            assert sorted(worked) == sorted(t["id"] for t in (*layer1, *layer2, {"id": "z"}))
            events = await board.events(run.id)
            assert [e.kind for e in events].count("run.finished") == 1
            ready = [e.task_id for e in events if e.kind == "task.deps_done"]
            assert len(ready) == len(set(ready)) == 41
            assert (await board.verify_audit()).ok
        finally:
            await board.close()

    asyncio.run(scenario())
