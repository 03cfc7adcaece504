"""Budgets: tokens, money, attempts and wall time for a run; tokens and money for a task.

Past a run's budget the run is paused (nothing new is claimed, nothing done is lost) and
a human is asked; a higher budget lets it go on. Past a task's own budget the task is
blocked and a human is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from baton import InvalidArgument, InvalidPlan, LeaseLost, Run, SyncBoard, TaskState
from baton.model import RunState
from baton.runtime.orchestrator import Orchestrator
from tests.helpers import ManualClock, plan, task


def _budget_plan(budget: dict[str, Any] | None, *tasks: dict[str, Any]) -> dict[str, Any]:
    p = plan(*(tasks or (task("a"), task("b"), task("c"))))
    if budget is not None:
        p["budget"] = budget
    return p


def _usage(board: SyncBoard, task_id: str, tokens: int = 0, cost: float = 0.0) -> Any:
    return board.record_usage(
        task_id,
        model="m-1",
        input_tokens=tokens // 2,
        output_tokens=tokens - tokens // 2,
        cost_usd=cost,
        actor="w1",
    )


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["tokens", "cost_usd", "attempts", "wall_s"])
@pytest.mark.parametrize("value", [0, -5])
def test_a_zero_or_negative_run_budget_is_refused(
    board: SyncBoard, field: str, value: float
) -> None:
    before = board.snapshot()
    with pytest.raises(InvalidPlan) as info:
        board.create_run(_budget_plan({field: value}))
    assert f"budget.{field}" in str(info.value)
    assert board.snapshot() == before


@pytest.mark.parametrize("field", ["tokens", "cost_usd"])
@pytest.mark.parametrize("value", [0, -1])
def test_a_zero_or_negative_task_budget_is_refused_naming_the_task(
    board: SyncBoard, field: str, value: float
) -> None:
    before = board.snapshot()
    with pytest.raises(InvalidPlan) as info:
        board.create_run(_budget_plan(None, task("a"), task("b", budget={field: value})))
    assert f"budget.{field}" in str(info.value)
    assert info.value.offending_ids == ["b"]
    assert board.snapshot() == before


def test_a_goal_run_with_a_zero_budget_is_refused(board: SyncBoard) -> None:
    before = board.snapshot()
    with pytest.raises(InvalidPlan, match=r"budget\.tokens"):
        board.create_goal_run("g", roles=["worker"], budget={"tokens": 0})
    with pytest.raises(InvalidPlan, match=r"budget\.cost_usd"):
        board.create_goal_run("g", roles=["worker"], budget={"cost_usd": -1.0})
    assert board.snapshot() == before


def test_an_unknown_budget_field_is_refused(board: SyncBoard) -> None:
    with pytest.raises(InvalidPlan, match=r"budget\.dollars"):
        board.create_run(_budget_plan({"dollars": 5}))


@pytest.mark.parametrize("field", ["attempts", "wall_s"])
def test_a_task_budget_refuses_limits_only_a_run_can_have(board: SyncBoard, field: str) -> None:
    with pytest.raises(InvalidPlan, match=field):
        board.create_run(_budget_plan(None, task("a", budget={field: 1})))


def test_negative_usage_is_refused(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan({"tokens": 100}))
    before = board.snapshot()
    with pytest.raises(InvalidArgument):
        board.record_usage(f"{run.id}/a", model="m", input_tokens=-1, output_tokens=5, actor="w1")
    with pytest.raises(InvalidArgument):
        board.record_usage(
            f"{run.id}/a", model="m", input_tokens=1, output_tokens=5, cost_usd=-0.1, actor="w1"
        )
    assert board.snapshot() == before


# --- run budgets: tokens and cost ------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "spend", "higher"),
    [
        pytest.param({"tokens": 1000}, {"tokens": 600}, {"tokens": 5000}, id="tokens"),
        pytest.param({"cost_usd": 1.0}, {"cost": 0.6}, {"cost_usd": 10.0}, id="cost"),
    ],
)
def test_a_run_past_its_budget_is_paused_and_resumes_with_a_higher_one(
    board: SyncBoard, budget: dict[str, Any], spend: dict[str, Any], higher: dict[str, Any]
) -> None:
    run = board.create_run(_budget_plan(budget))
    other = board.create_run(_budget_plan(None, task("x")))

    a = board.claim("w1", ["worker"], run_id=run.id)
    assert a is not None
    _usage(board, a.task.id, **spend)
    board.submit(a.task.id, a.token, {"did": "a"}, participant="w1")
    b = board.claim("w1", ["worker"], run_id=run.id)
    assert b is not None
    _usage(board, b.task.id, **spend)  # the spend now passes the budget

    r = board.get_run(run.id)
    assert r.state is RunState.PAUSED
    assert r.paused_reason is not None
    assert "budget" in r.paused_reason
    events = board.events(run.id)
    paused = [e for e in events if e.kind == "run.paused"]
    assert len(paused) == 1
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.budget"
    assert esc.payload["to"] == "human"
    assert esc.payload["evidence"]["budget"] == budget
    assert esc.seq > paused[0].seq

    # nothing new is claimed on the paused run; other runs carry on
    assert board.claim("w2", ["worker"], run_id=run.id) is None
    other_lease = board.claim("w2", ["worker"])
    assert other_lease is not None
    assert other_lease.task.run_id == other.id

    # nothing done is lost, and the task in hand may still be handed in
    assert board.get_task(a.task.id).state is TaskState.DONE
    assert board.get_task(a.task.id).output == {"did": "a"}
    board.submit(b.task.id, b.token, {"did": "b"}, participant="w1")
    assert board.get_task(b.task.id).state is TaskState.DONE

    # more usage while paused does not raise a second escalation
    _usage(board, b.task.id, **spend)
    assert len(board.escalations(run.id)) == 1

    # resuming while still over the budget is refused and changes nothing
    before = board.snapshot()
    with pytest.raises(InvalidArgument, match="budget"):
        board.resume_run(run.id, actor="human:ann")
    with pytest.raises(InvalidArgument, match="budget"):
        board.resume_run(run.id, actor="human:ann", budget=budget)
    assert board.snapshot() == before

    resumed = board.resume_run(run.id, actor="human:ann", budget=higher)
    assert resumed.state is RunState.ACTIVE
    assert board.get_run(run.id).budget == higher
    assert board.events(run.id)[-1].kind == "run.resumed"
    c = board.claim("w1", ["worker"], run_id=run.id)
    assert c is not None
    assert c.task.key == "c"
    board.submit(c.task.id, c.token, {"did": "c"}, participant="w1")
    assert board.get_run(run.id).state is RunState.FINISHED


def test_spending_exactly_the_budget_does_not_pause(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan({"tokens": 100}))
    lease = board.claim("w1", ["worker"])
    assert lease is not None
    _usage(board, lease.task.id, tokens=100)
    assert board.get_run(run.id).state is RunState.ACTIVE
    assert board.escalations(run.id) == []
    _usage(board, lease.task.id, tokens=1)
    assert board.get_run(run.id).state is RunState.PAUSED


def test_usage_is_summed_on_the_task_and_the_run(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan(None))
    a = board.claim("w1", ["worker"])
    b = board.claim("w2", ["worker"])
    assert a is not None and b is not None
    _usage(board, a.task.id, tokens=10, cost=0.25)
    _usage(board, a.task.id, tokens=5, cost=0.25)
    _usage(board, b.task.id, tokens=7)
    assert board.get_task(a.task.id).tokens_used == 15
    assert board.get_task(a.task.id).cost_used == pytest.approx(0.5)
    r = board.get_run(run.id)
    assert r.tokens_used == 22
    assert r.cost_used == pytest.approx(0.5)
    usage = [e for e in board.events(run.id) if e.kind == "task.usage"]
    assert [e.payload["input_tokens"] + e.payload["output_tokens"] for e in usage] == [10, 5, 7]
    assert r.state is RunState.ACTIVE  # no budget, no pause


# --- task budgets ------------------------------------------------------------------------


def test_a_task_past_its_own_budget_is_blocked_and_a_human_asked(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan(None, task("a", budget={"tokens": 50}), task("b")))
    lease = board.claim("w1", ["worker"])
    assert lease is not None
    assert lease.task.key == "a"
    _usage(board, lease.task.id, tokens=40)
    assert board.get_task(lease.task.id).state is TaskState.RUNNING

    after = _usage(board, lease.task.id, tokens=20)
    assert after.state is TaskState.BLOCKED
    assert after.blocked_reason is not None
    assert "budget" in after.blocked_reason
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.budget"
    assert esc.task_id == lease.task.id
    # the run itself has no budget: it goes on
    assert board.get_run(run.id).state is RunState.ACTIVE
    other = board.claim("w2", ["worker"])
    assert other is not None
    assert other.task.key == "b"
    # the blocked task's holder cannot hand in anymore
    with pytest.raises(LeaseLost):
        board.submit(lease.task.id, lease.token, {"late": True}, participant="w1")
    assert board.get_task(lease.task.id).output is None


def test_a_task_budget_counts_cost_too(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan(None, task("a", budget={"cost_usd": 0.1})))
    lease = board.claim("w1", ["worker"])
    assert lease is not None
    _usage(board, lease.task.id, tokens=1, cost=0.2)
    assert board.get_task(lease.task.id).state is TaskState.BLOCKED
    assert [e.kind for e in board.escalations(run.id)] == ["escalation.budget"]


# --- attempts ---------------------------------------------------------------------------


def _exhaust_attempts(board: SyncBoard, attempts: int) -> Run:
    run = board.create_run(
        _budget_plan({"attempts": attempts}, task("a", backoff_base_s=0, max_attempts=10))
    )
    for _ in range(attempts):
        lease = board.claim("w1", ["worker"], run_id=run.id)
        assert lease is not None
        board.fail(lease.task.id, lease.token, "flaky", participant="w1")
    return run


def test_the_claim_past_the_attempts_budget_returns_none_and_pauses(board: SyncBoard) -> None:
    run = _exhaust_attempts(board, 2)
    assert board.get_run(run.id).state is RunState.ACTIVE
    assert board.get_run(run.id).claims == 2

    assert board.claim("w1", ["worker"], run_id=run.id) is None
    r = board.get_run(run.id)
    assert r.state is RunState.PAUSED
    assert "attempts" in (r.paused_reason or "")
    assert board.get_task(f"{run.id}/a").state is TaskState.READY
    assert board.get_task(f"{run.id}/a").attempts == 2
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.budget"
    assert "attempts" in esc.payload["reason"]

    # still paused: a second try neither claims nor escalates again
    assert board.claim("w1", ["worker"]) is None
    assert len(board.escalations(run.id)) == 1

    board.resume_run(run.id, actor="human:ann", budget={"attempts": 3})
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None
    board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    assert board.get_run(run.id).state is RunState.FINISHED


def test_resuming_with_the_attempts_budget_used_up_is_refused(board: SyncBoard) -> None:
    run = _exhaust_attempts(board, 2)
    assert board.claim("w1", ["worker"], run_id=run.id) is None
    with pytest.raises(InvalidArgument):
        board.resume_run(run.id, actor="human:ann")


def test_a_released_claim_gives_its_attempt_back(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan({"attempts": 1}, task("a")))
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None and board.get_run(run.id).claims == 1
    board.release(lease.task.id, lease.token, participant="w1")  # e.g. a graceful shutdown
    assert board.get_run(run.id).claims == 0
    again = board.claim("w2", ["worker"], run_id=run.id)
    assert again is not None, "the released claim was counted as a spent attempt"
    board.submit(again.task.id, again.token, {"ok": True}, participant="w2")
    r = board.get_run(run.id)
    assert (r.state, r.claims) == (RunState.FINISHED, 1)


def test_review_claims_do_not_count_against_the_attempts_budget(board: SyncBoard) -> None:
    run = board.create_run(_budget_plan({"attempts": 1}, task("a", reviewer_role="reviewer")))
    lease = board.claim("w1", ["worker"])
    assert lease is not None
    board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    review = board.claim("rev", ["reviewer"])
    assert review is not None
    board.approve(review.task.id, actor="rev", token=review.token)
    assert board.get_run(run.id).state is RunState.FINISHED


# --- wall time (enforced by the orchestrator) -----------------------------------------------


def _tick(board: SyncBoard, orch: Orchestrator) -> list[Any]:
    return board._runner.run(orch.tick())


def test_the_orchestrator_pauses_a_run_past_its_wall_time(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(_budget_plan({"wall_s": 60}))
    unlimited = board.create_run(_budget_plan(None, task("x")))
    orch = Orchestrator(board.board, stall_s=10_000)
    clock.advance(59)
    assert _tick(board, orch) == []
    assert board.get_run(run.id).state is RunState.ACTIVE

    clock.advance(2)
    raised = _tick(board, orch)
    assert [e.kind for e in raised] == ["escalation.budget"]
    r = board.get_run(run.id)
    assert r.state is RunState.PAUSED
    assert "wall" in (r.paused_reason or "")
    (esc,) = board.escalations(run.id)
    assert esc.payload["evidence"] == {"wall_s": 60}
    assert esc.payload["to"] == "human"
    assert board.claim("w1", ["worker"], run_id=run.id) is None
    assert board.get_run(unlimited.id).state is RunState.ACTIVE

    _tick(board, orch)
    assert len(board.escalations(run.id)) == 1


def test_resuming_past_the_wall_time_without_raising_it_is_refused(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(_budget_plan({"wall_s": 60}))
    orch = Orchestrator(board.board, stall_s=10_000)
    clock.advance(61)
    _tick(board, orch)
    assert board.get_run(run.id).state is RunState.PAUSED
    with pytest.raises(InvalidArgument):
        board.resume_run(run.id, actor="human:ann")


def test_a_resumed_run_passing_its_new_wall_time_escalates_again(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(_budget_plan({"wall_s": 60}))
    orch = Orchestrator(board.board, stall_s=10_000)
    clock.advance(61)
    _tick(board, orch)
    board.resume_run(run.id, actor="human:ann", budget={"wall_s": 600})
    assert board.get_run(run.id).state is RunState.ACTIVE
    clock.advance(600)
    _tick(board, orch)
    assert board.get_run(run.id).state is RunState.PAUSED
    assert len(board.escalations(run.id)) == 2


# --- under concurrency ---------------------------------------------------------------------


def _in_threads(store_url: str, clock: ManualClock, n: int, fn: Any) -> list[Any]:
    """Run ``fn(board)`` in ``n`` threads at once, each on its own board on the store."""
    import threading

    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            with SyncBoard.open(store_url, clock=clock) as mine:
                barrier.wait(timeout=10)
                results.append(fn(mine))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return results


def test_concurrent_pauses_of_a_run_write_one_pause(
    board: SyncBoard, clock: ManualClock, store_url: str
) -> None:
    runs = [board.create_run(_budget_plan(None, task("a"))) for _ in range(20)]

    def pause_all(mine: SyncBoard) -> None:
        for run in runs:
            mine.pause_run(run.id, actor="human", reason="stop")

    _in_threads(store_url, clock, 8, pause_all)
    for run in runs:
        kinds = [e.kind for e in board.events(run.id)]
        assert kinds.count("run.paused") == 1, kinds


def test_concurrent_claims_never_exceed_the_attempts_budget(
    board: SyncBoard, clock: ManualClock, store_url: str
) -> None:
    runs = [
        board.create_run(_budget_plan({"attempts": 3}, *[task(f"t{i}") for i in range(12)]))
        for _ in range(4)
    ]

    def claim_all(mine: SyncBoard) -> int:
        won = 0
        for run in runs:
            while mine.claim("w", ["worker"], run_id=run.id) is not None:
                won += 1
        return won

    won = _in_threads(store_url, clock, 8, claim_all)
    assert sum(won) == 3 * len(runs)
    for run in runs:
        r = board.get_run(run.id)
        assert r.state is RunState.PAUSED
        assert sum(t.attempts for t in board.tasks(run.id)) == 3
        assert len(board.escalations(run.id)) == 1
