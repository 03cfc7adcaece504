"""One comparison rule at every limit: a budget of N allows exactly N. Held at the
boundary (N - 1, N, N + 1) for run tokens, run cost, run attempts, task tokens, a
task's attempts and its review rounds, and the pure rule itself."""

from __future__ import annotations

import pytest

from baton import InvalidArgument, RunState, SyncBoard, TaskState
from baton.model.budgets import past, reached, remaining
from tests.conformance._util import claim, finish, tid
from tests.helpers import plan, task


@pytest.mark.parametrize(
    ("used", "is_past", "is_reached"), [(9, False, False), (10, False, True), (11, True, True)]
)
def test_the_rule(used: int, is_past: bool, is_reached: bool) -> None:
    assert past(used, 10) is is_past
    assert reached(used, 10) is is_reached
    assert remaining(used, 10) == 10 - used
    assert not past(used, None) and not reached(used, None) and remaining(used, None) is None


def _usage(board: SyncBoard, task_id: str, tokens: int = 0, cost: float = 0.0) -> None:
    board.record_usage(
        task_id, model="m", input_tokens=tokens, output_tokens=0, cost_usd=cost, actor="w1"
    )


@pytest.mark.parametrize(("field", "unit"), [("tokens", 1), ("cost_usd", 0.25)])
def test_a_run_budget_of_n_allows_exactly_n(board: SyncBoard, field: str, unit: float) -> None:
    limit = 4 * unit
    run = board.create_run({**plan(task("a"), task("b")), "budget": {field: limit}})
    lease = claim(board)

    def spend(n: int) -> None:
        _usage(board, lease.task.id, **({"tokens": n} if field == "tokens" else {"cost": n * unit}))

    spend(3)  # N - 1
    assert board.get_run(run.id).state is RunState.ACTIVE
    spend(1)  # exactly N: allowed
    assert board.get_run(run.id).state is RunState.ACTIVE
    board.pause_run(run.id, actor="h", reason="look")
    with pytest.raises(InvalidArgument, match="still out of budget"):  # nothing left
        board.resume_run(run.id, actor="h")
    assert board.get_run(run.id).state is RunState.PAUSED
    board.resume_run(run.id, actor="h", budget={field: limit + unit})  # raised: goes on
    spend(1)  # N + 1 of the new N: still exactly the new limit
    assert board.get_run(run.id).state is RunState.ACTIVE
    spend(1)  # past it
    paused = board.get_run(run.id)
    assert paused.state is RunState.PAUSED and "budget exceeded" in (paused.paused_reason or "")


def test_a_run_attempts_budget_of_n_allows_exactly_n_claims(board: SyncBoard) -> None:
    run = board.create_run({**plan(task("a"), task("b"), task("c")), "budget": {"attempts": 2}})
    finish(board, claim(board))
    finish(board, claim(board))  # the Nth claim: allowed
    assert board.get_run(run.id).state is RunState.ACTIVE
    assert board.claim("w1", ["worker"]) is None  # the N + 1st is refused
    assert board.get_run(run.id).state is RunState.PAUSED
    assert board.get_run(run.id).claims == 2


def test_a_task_budget_of_n_tokens_allows_exactly_n(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", budget={"tokens": 5})))
    lease = claim(board)
    _usage(board, lease.task.id, tokens=5)
    assert board.get_task(tid(run, "a")).state is TaskState.RUNNING
    _usage(board, lease.task.id, tokens=1)
    assert board.get_task(tid(run, "a")).state is TaskState.BLOCKED


def test_max_attempts_of_n_allows_exactly_n_attempts(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", max_attempts=3, backoff_base_s=0)))
    for n in (1, 2):
        lease = claim(board)
        assert (
            board.fail(lease.task.id, lease.token, f"e{n}", participant="w1").state
            is TaskState.READY
        )
    lease = claim(board)  # the Nth attempt is made
    assert board.fail(lease.task.id, lease.token, "e3", participant="w1").state is TaskState.FAILED
    assert board.get_task(tid(run, "a")).attempts == 3


def test_max_review_rounds_of_n_allows_exactly_n_rounds(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer", max_review_rounds=2)))
    finish(board, claim(board))
    assert board.reject(tid(run, "a"), "round 1", actor="rev").state is TaskState.READY
    finish(board, claim(board))
    final = board.reject(tid(run, "a"), "round 2", actor="rev")
    assert final.state is TaskState.FAILED and final.review_rounds == 2
