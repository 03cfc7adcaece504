"""Goal runs: a planner task turns a goal into a sub-plan, validated like any plan.

A valid sub-plan puts its tasks on the run as children of the plan task, which waits for
them and is done in the transaction of its last child finishing. An invalid one is
refused as a contract violation and retried with the errors; after ``max_attempts`` the
planning fails and a human is asked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baton import Board, ContractViolation, Lease, SyncBoard, TaskState
from baton.model import RunState
from baton.runtime.agents.context import TaskContext
from baton.runtime.worker import Worker

ROLES = ["dev", "qa"]


def _claim_plan(board: SyncBoard, who: str = "planner-1") -> Lease:
    lease = board.claim(who, ["planner"])
    assert lease is not None, "the plan task is not claimable"
    assert lease.task.key == "plan"
    return lease


def _work(board: SyncBoard, role: str, who: str = "w1") -> Lease:
    lease = board.claim(who, [role])
    assert lease is not None, f"nothing claimable for {role}"
    return lease


def _keys(board: SyncBoard, run_id: str) -> dict[str, Any]:
    return {t.key: t for t in board.tasks(run_id)}


GOOD_SUBPLAN = {
    "tasks": [
        {"id": "build", "role": "dev", "title": "Build it"},
        {"id": "test", "role": "qa", "depends_on": ["build"]},
    ]
}


def test_a_goal_run_starts_with_one_planning_task(board: SyncBoard) -> None:
    run = board.create_goal_run("ship the profile page", roles=ROLES)
    assert run.state is RunState.ACTIVE
    assert set(run.roles) == {"planner", "dev", "qa"}
    (plan,) = board.tasks(run.id)
    assert plan.key == "plan"
    assert plan.role == "planner"
    assert plan.expand is True
    assert plan.state is TaskState.READY
    assert plan.input == {"goal": "ship the profile page", "roles": ROLES}
    # nobody but a planner can take it
    assert board.claim("w1", ROLES) is None


def test_a_valid_subplan_becomes_children_and_the_plan_is_done_with_the_last_child(
    board: SyncBoard,
) -> None:
    run = board.create_goal_run("ship it", roles=ROLES)
    lease = _claim_plan(board)
    after = board.submit(lease.task.id, lease.token, GOOD_SUBPLAN, participant="planner-1")
    assert after.state is TaskState.PENDING

    tasks = _keys(board, run.id)
    assert set(tasks) == {"plan", "build", "test"}
    plan_id = f"{run.id}/plan"
    assert tasks["build"].parent_id == plan_id
    assert tasks["test"].parent_id == plan_id
    assert tasks["build"].state is TaskState.READY
    assert tasks["test"].state is TaskState.PENDING
    assert tasks["test"].depends_on == [f"{run.id}/build"]
    assert tasks["plan"].state is TaskState.PENDING

    expand = [e for e in board.events(run.id) if e.kind == "task.expand"]
    assert len(expand) == 1
    assert expand[0].task_id == plan_id
    assert expand[0].payload["from"] == "running"
    assert expand[0].payload["to"] == "pending"
    assert expand[0].payload["children"] == ["build", "test"]

    b = _work(board, "dev")
    board.submit(b.task.id, b.token, {"built": True}, participant="w1")
    assert board.get_task(plan_id).state is TaskState.PENDING
    assert board.get_run(run.id).state is RunState.ACTIVE

    t = _work(board, "qa")
    head = board.events()[-1].seq
    board.submit(t.task.id, t.token, {"passed": 12}, participant="w1")
    # the last child's submit finished the plan task and the run in the same call
    plan = board.get_task(plan_id)
    assert plan.state is TaskState.DONE
    assert plan.output == {
        "subplan": GOOD_SUBPLAN,
        "results": {"build": {"built": True}, "test": {"passed": 12}},
    }
    run_after = board.get_run(run.id)
    assert run_after.state is RunState.FINISHED
    # one call, one transaction: the child's completion, the parent's, the run's, in a row
    tail = [(e.kind, e.task_id) for e in board.events(run.id, since=head)]
    assert tail == [
        ("task.complete", f"{run.id}/test"),
        ("task.children_done", plan_id),
        ("run.finished", None),
    ]


def _subplan_case(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"tasks": list(tasks)}


INVALID_SUBPLANS = [
    pytest.param(
        _subplan_case(
            {"id": "a", "role": "dev", "depends_on": ["b"]},
            {"id": "b", "role": "dev", "depends_on": ["a"]},
        ),
        ["cycle", "a -> b -> a"],
        id="cycle",
    ),
    pytest.param(
        _subplan_case({"id": "a", "role": "dev"}, {"id": "ux", "role": "designer"}),
        ["unknown_role", "'ux'", "'designer'"],
        id="unknown-role",
    ),
    pytest.param(
        _subplan_case({"id": "a", "role": "dev", "depends_on": ["ghost"]}),
        ["dangling_dependency", "'a'", "'ghost'"],
        id="missing-dependency",
    ),
    pytest.param(
        _subplan_case({"id": "a", "role": "dev", "priority": "very high"}),
        [("tasks/0/priority", "tasks.0.priority"), "very high"],
        id="bad-field-type",
    ),
    pytest.param(
        _subplan_case({"id": "a", "role": "dev", "colour": "red"}),
        [("tasks/0", "tasks.0"), "colour"],
        id="unknown-field",
    ),
    pytest.param(_subplan_case({"id": "a"}), [("tasks/0", "tasks.0"), "role"], id="missing-role"),
    pytest.param(
        _subplan_case({"id": "a", "role": "dev"}, {"id": "a", "role": "qa"}),
        ["duplicate_id", "'a'"],
        id="duplicate-id",
    ),
    pytest.param(
        _subplan_case({"id": "plan", "role": "dev"}),
        ["duplicate_id", "'plan'"],
        id="reuses-the-plan-id",
    ),
    pytest.param("build everything", ["<root>", "object"], id="a-string"),
    pytest.param({}, ["tasks"], id="empty-object"),
    pytest.param({"tasks": []}, ["tasks"], id="no-tasks"),
    pytest.param({"tasks": "a, b"}, ["tasks"], id="tasks-not-a-list"),
    pytest.param([{"id": "a", "role": "dev"}], ["<root>", "object"], id="a-bare-list"),
    pytest.param({"tasks": [42]}, [("tasks/0", "tasks.0"), "42"], id="a-task-that-is-a-number"),
]


@pytest.mark.parametrize(("subplan", "named"), INVALID_SUBPLANS)
def test_an_invalid_subplan_is_refused_retried_with_the_errors_and_writes_nothing(
    board: SyncBoard, subplan: Any, named: list[str | tuple[str, ...]]
) -> None:
    run = board.create_goal_run("ship it", roles=ROLES)
    lease = _claim_plan(board)
    before = board.snapshot()

    with pytest.raises(ContractViolation) as info:
        board.submit(lease.task.id, lease.token, subplan, participant="planner-1")

    text = "\n".join(info.value.errors)
    for fragment in named:
        options = fragment if isinstance(fragment, tuple) else (fragment,)
        assert any(o in text for o in options), f"{fragment!r} not named in: {text}"
    assert info.value.state == "ready"

    after = board.snapshot()
    # no child task, no dependency edge: nothing of the sub-plan was written
    assert [t.key for t in board.tasks(run.id)] == ["plan"]
    assert after["deps"] == before["deps"]
    assert not [e for e in board.events(run.id) if e.kind in ("task.created", "task.expand")][1:]

    plan = board.get_task(f"{run.id}/plan")
    assert plan.state is TaskState.READY
    assert plan.output is None
    assert plan.failures == 1
    assert plan.last_error == {"kind": "contract_violation", "errors": info.value.errors}
    retry = board.events(run.id)[-1]
    assert retry.kind == "task.retry"
    assert retry.payload["error"]["errors"] == info.value.errors


def test_a_subplan_whose_child_depends_on_the_plan_task_is_a_cycle(board: SyncBoard) -> None:
    run = board.create_goal_run("ship it", roles=ROLES)
    lease = _claim_plan(board)
    subplan = _subplan_case({"id": "a", "role": "dev", "depends_on": ["plan"]})
    with pytest.raises(ContractViolation) as info:
        board.submit(lease.task.id, lease.token, subplan, participant="planner-1")
    assert any("'plan'" in e and "'a'" in e for e in info.value.errors)
    assert [t.key for t in board.tasks(run.id)] == ["plan"]


def test_the_next_planning_attempt_sees_the_errors_of_the_last(board: SyncBoard) -> None:
    run = board.create_goal_run("ship it", roles=ROLES)
    lease = _claim_plan(board)
    bad = _subplan_case({"id": "a", "role": "designer"})
    with pytest.raises(ContractViolation) as info:
        board.submit(lease.task.id, lease.token, bad, participant="planner-1")

    again = _claim_plan(board, "planner-2")
    assert again.task.attempts == 2
    assert again.task.last_error is not None
    assert again.task.last_error["kind"] == "contract_violation"
    assert again.task.last_error["errors"] == info.value.errors

    # and the planner agent is shown them, in its context and its prompt
    worker = Worker(board.board, {"planner": lambda ctx: None}, name="planner-2")
    ctx: TaskContext = board._runner.run(worker.context(again))
    assert ctx.card()["previous_attempt_errors"] == info.value.errors
    assert "designer" in ctx.prompt()

    # a corrected sub-plan is accepted and the error is cleared
    done = board.submit(again.task.id, again.token, GOOD_SUBPLAN, participant="planner-2")
    assert done.state is TaskState.PENDING
    assert done.last_error is None
    assert set(_keys(board, run.id)) == {"plan", "build", "test"}


def test_planning_fails_after_max_attempts_and_a_human_is_asked(board: SyncBoard) -> None:
    run = board.create_goal_run("ship it", roles=ROLES, max_planning_attempts=2)
    bad = _subplan_case(
        {"id": "a", "role": "dev", "depends_on": ["b"]},
        {"id": "b", "role": "dev", "depends_on": ["a"]},
    )
    for attempt in (1, 2):
        lease = _claim_plan(board)
        with pytest.raises(ContractViolation) as info:
            board.submit(lease.task.id, lease.token, bad, participant="planner-1")
        assert info.value.state == ("ready" if attempt == 1 else "failed")
        if attempt == 1:
            assert board.escalations(run.id) == []

    plan = board.get_task(f"{run.id}/plan")
    assert plan.state is TaskState.FAILED
    assert plan.failures == 2
    assert board.claim("planner-1", ["planner"]) is None

    (esc, run_failed) = board.escalations(run.id)
    assert run_failed.kind == "escalation.run_failed"
    assert esc.kind == "escalation.planning"
    assert esc.task_id == plan.id
    assert esc.payload["to"] == "human"
    assert "plan" in esc.payload["reason"]
    evidence = esc.payload["evidence"]["last_error"]
    assert evidence["kind"] == "contract_violation"
    assert evidence["errors"] == info.value.errors
    assert any("cycle" in e for e in evidence["errors"])

    assert [t.key for t in board.tasks(run.id)] == ["plan"]
    assert board.get_run(run.id).state is RunState.FAILED


def test_a_planner_giving_up_for_good_also_escalates(board: SyncBoard) -> None:
    run = board.create_goal_run("ship it", roles=ROLES)
    lease = _claim_plan(board)
    board.fail(lease.task.id, lease.token, "no idea how", participant="planner-1", retryable=False)
    (esc, _run_failed) = board.escalations(run.id)
    assert esc.kind == "escalation.planning"
    assert esc.payload["evidence"]["last_error"] == {"kind": "error", "message": "no idea how"}


def test_a_goal_run_with_a_budget_carries_it(board: SyncBoard) -> None:
    run = board.create_goal_run("ship it", roles=ROLES, budget={"tokens": 5000, "attempts": 9})
    assert run.budget == {"tokens": 5000, "attempts": 9}
    assert board.get_run(run.id).budget == {"tokens": 5000, "attempts": 9}


def test_a_goal_run_is_planned_and_worked_by_agents_to_the_end(store_url: str) -> None:
    """The hub-and-spoke pattern end to end: a worker hosting a planner and two roles."""
    seen_goal: list[str] = []

    def planner(ctx: TaskContext) -> dict[str, Any]:
        seen_goal.append(ctx.input["goal"])
        return {
            "tasks": [
                {"id": "api", "role": "dev", "input": {"endpoint": "/profile"}},
                {"id": "ui", "role": "dev", "depends_on": ["api"]},
                {"id": "check", "role": "qa", "depends_on": ["api", "ui"]},
            ]
        }

    def dev(ctx: TaskContext) -> dict[str, Any]:
        return {"made": ctx.task.key, "after": sorted(ctx.dependencies)}

    def qa(ctx: TaskContext) -> dict[str, Any]:
        return {"checked": sorted(k for k, d in ctx.dependencies.items() if d.output)}

    async def main() -> tuple[Any, list[Any]]:
        board = Board.open(store_url)
        try:
            run = await board.create_goal_run("profile page", roles=ROLES)
            worker = Worker(board, {"planner": planner, "dev": dev, "qa": qa}, name="w")
            await asyncio.wait_for(worker.run(run_id=run.id), 30)
            return await board.get_run(run.id), await board.tasks(run.id)
        finally:
            await board.close()

    run, tasks = asyncio.run(main())
    assert seen_goal == ["profile page"]
    assert run.state is RunState.FINISHED
    by_key = {t.key: t for t in tasks}
    assert {k: t.state for k, t in by_key.items()} == dict.fromkeys(
        ["plan", "api", "ui", "check"], TaskState.DONE
    )
    assert by_key["ui"].output == {"made": "ui", "after": ["api"]}
    assert by_key["check"].output == {"checked": ["api", "ui"]}
    assert by_key["plan"].output["results"]["check"] == {"checked": ["api", "ui"]}
