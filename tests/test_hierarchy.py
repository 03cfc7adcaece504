"""Runs that grow: a task in the middle of a plan expands into a sub-plan (hierarchy), and
participants add tasks for other roles while the run goes on (peer-to-peer)."""

from __future__ import annotations

from typing import Any

import pytest

from baton import (
    ContractViolation,
    InvalidArgument,
    InvalidPlan,
    Lease,
    LeaseLost,
    Run,
    SyncBoard,
    TaskState,
)
from baton.model import RunState
from tests.helpers import plan, task

ROLES = ("worker", "lead", "qa")


def _claim(board: SyncBoard, key: str, role: str = "worker", who: str = "w1") -> Lease:
    lease = board.claim(who, [role])
    assert lease is not None, f"nothing claimable for {role}, expected {key!r}"
    assert lease.task.key == key, f"claimed {lease.task.key!r}, expected {key!r}"
    return lease


def _do(board: SyncBoard, key: str, role: str = "worker", output: Any = None) -> None:
    lease = _claim(board, key, role)
    out = {"did": key} if output is None else output
    board.submit(lease.task.id, lease.token, out, participant=lease.owner)


def _fail_for_good(board: SyncBoard, key: str, role: str = "worker") -> None:
    lease = _claim(board, key, role)
    board.fail(lease.task.id, lease.token, f"{key} broke", participant=lease.owner, retryable=False)


def _states(board: SyncBoard, run: Run) -> dict[str, TaskState]:
    return {t.key: t.state for t in board.tasks(run.id)}


def _mid_plan_run(board: SyncBoard, **lead: Any) -> Run:
    """a -> p (expands, lead) -> z."""
    return board.create_run(
        plan(
            task("a"),
            task("p", role="lead", deps=("a",), expand=True, **lead),
            task("z", deps=("p",)),
            roles=ROLES,
        )
    )


def _expand(board: SyncBoard, key: str, children: list[dict[str, Any]]) -> None:
    lease = _claim(board, key, "lead", who="lead-1")
    after = board.submit(lease.task.id, lease.token, {"tasks": children}, participant="lead-1")
    assert after.state is TaskState.PENDING


# --- hierarchy ------------------------------------------------------------------------


def test_a_task_in_the_middle_of_a_plan_expands_and_its_dependents_wait_for_it(
    board: SyncBoard,
) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1"), task("c2", deps=("c1",))])

    tasks = {t.key: t for t in board.tasks(run.id)}
    assert tasks["c1"].parent_id == f"{run.id}/p"
    assert tasks["c2"].parent_id == f"{run.id}/p"
    assert _states(board, run) == {
        "a": TaskState.DONE,
        "p": TaskState.PENDING,
        "z": TaskState.PENDING,
        "c1": TaskState.READY,
        "c2": TaskState.PENDING,
    }

    _do(board, "c1")
    # the parent is not done while a child is open, so its dependent is not released
    assert _states(board, run)["p"] is TaskState.PENDING
    assert _states(board, run)["z"] is TaskState.PENDING
    _claim(board, "c2")  # z is not claimable: only c2 was
    assert board.claim("w2", ["worker"]) is None
    c2 = board.get_task(f"{run.id}/c2")
    board.submit(c2.id, c2.token, {"did": "c2"}, participant="w1")

    p = board.get_task(f"{run.id}/p")
    assert p.state is TaskState.DONE
    assert p.output["results"] == {"c1": {"did": "c1"}, "c2": {"did": "c2"}}
    assert p.output["subplan"] == {"tasks": [task("c1"), task("c2", deps=("c1",))]}
    assert _states(board, run)["z"] is TaskState.READY

    # z sees its dependency's output: the children's results
    lease = _claim(board, "z")
    assert lease.task.depends_on == [f"{run.id}/p"]
    board.submit(lease.task.id, lease.token, {"did": "z"}, participant="w1")
    assert board.get_run(run.id).state is RunState.FINISHED


def test_a_child_failing_with_cascade_fails_its_parent_and_the_parents_dependents(
    board: SyncBoard,
) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1"), task("c2", deps=("c1",))])
    _fail_for_good(board, "c1")

    tasks = {t.key: t for t in board.tasks(run.id)}
    assert tasks["c1"].state is TaskState.FAILED
    for key in ("c2", "p", "z"):
        assert tasks[key].state is TaskState.FAILED, key
        error = tasks[key].last_error
        assert error is not None, key
        assert error["root_cause"] == f"{run.id}/c1", key
    assert tasks["a"].state is TaskState.DONE
    assert board.get_run(run.id).state is RunState.FAILED


def test_cancelling_a_parent_cancels_its_unfinished_children(board: SyncBoard) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1"), task("c2"), task("c3", deps=("c1",))])
    _do(board, "c1")
    board.cancel_task(f"{run.id}/p", actor="human:ann", reason="scrap it")
    states = _states(board, run)
    assert states["c1"] is TaskState.DONE
    assert states["c2"] is TaskState.CANCELLED
    assert states["c3"] is TaskState.CANCELLED
    assert states["z"] is TaskState.CANCELLED
    assert board.claim("w2", ["worker"]) is None
    assert board.get_run(run.id).state is RunState.FINISHED


def test_a_child_failing_with_continue_lets_the_parent_complete(board: SyncBoard) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1", on_failure="continue"), task("c2", deps=("c1",))])
    _fail_for_good(board, "c1")

    assert _states(board, run)["c2"] is TaskState.READY
    assert _states(board, run)["p"] is TaskState.PENDING
    _do(board, "c2")

    p = board.get_task(f"{run.id}/p")
    assert p.state is TaskState.DONE
    assert p.output["results"] == {"c1": None, "c2": {"did": "c2"}}
    _do(board, "z")
    assert _states(board, run)["c1"] is TaskState.FAILED
    assert board.get_run(run.id).state is RunState.FINISHED


def test_nested_expansion_finishes_inside_out(board: SyncBoard) -> None:
    run = board.create_run(plan(task("top", role="lead", expand=True), task("end"), roles=ROLES))
    _expand(board, "top", [task("mid", role="lead", expand=True), task("side")])
    _expand(board, "mid", [task("leaf1"), task("leaf2", deps=("leaf1",))])

    tasks = {t.key: t for t in board.tasks(run.id)}
    assert tasks["mid"].parent_id == f"{run.id}/top"
    assert tasks["leaf1"].parent_id == f"{run.id}/mid"
    assert tasks["leaf2"].parent_id == f"{run.id}/mid"

    _do(board, "end")
    _do(board, "side")
    _do(board, "leaf1")
    assert _states(board, run)["mid"] is TaskState.PENDING
    assert _states(board, run)["top"] is TaskState.PENDING
    _do(board, "leaf2")

    top = board.get_task(f"{run.id}/top")
    mid = board.get_task(f"{run.id}/mid")
    assert mid.state is TaskState.DONE
    assert top.state is TaskState.DONE
    assert mid.output["results"] == {"leaf1": {"did": "leaf1"}, "leaf2": {"did": "leaf2"}}
    assert top.output["results"]["side"] == {"did": "side"}
    assert top.output["results"]["mid"]["results"]["leaf2"] == {"did": "leaf2"}
    assert board.get_run(run.id).state is RunState.FINISHED
    kinds = [e.kind for e in board.events(run.id)]
    assert kinds.count("task.expand") == 2
    assert kinds.count("task.children_done") == 2
    assert kinds[-1] == "run.finished"


def test_a_child_may_depend_on_a_finished_task_outside_its_subplan(board: SyncBoard) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1", deps=("a",))])
    assert _states(board, run)["c1"] is TaskState.READY
    assert board.get_task(f"{run.id}/c1").depends_on == [f"{run.id}/a"]


def test_a_child_depending_on_a_dependent_of_its_parent_is_refused(board: SyncBoard) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    lease = _claim(board, "p", "lead", who="lead-1")
    with pytest.raises(ContractViolation, match="cycle"):
        board.submit(
            lease.task.id, lease.token, {"tasks": [task("c1", deps=("z",))]}, participant="lead-1"
        )
    assert set(_states(board, run)) == {"a", "p", "z"}


def test_a_peer_adds_a_child_under_an_expanded_parent_and_the_parent_waits_for_it(
    board: SyncBoard,
) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1")])
    (c2,) = board.add_tasks(run.id, [task("c2", parent="p")], actor="w1")
    assert c2.parent_id == f"{run.id}/p"
    _do(board, "c1")
    assert _states(board, run)["p"] is TaskState.PENDING
    _do(board, "c2")
    p = board.get_task(f"{run.id}/p")
    assert p.state is TaskState.DONE
    assert p.output["results"] == {"c1": {"did": "c1"}, "c2": {"did": "c2"}}
    assert _states(board, run)["z"] is TaskState.READY

    before = board.snapshot()
    with pytest.raises(InvalidPlan) as info:
        board.add_tasks(run.id, [task("c3", parent="p")], actor="w1")
    assert "parent_finished" in {pr.code for pr in info.value.problems}
    assert {"c3", "p"} <= set(info.value.offending_ids)
    assert board.snapshot() == before


def test_a_child_added_under_a_parent_depending_on_the_parents_dependent_is_refused(
    board: SyncBoard,
) -> None:
    run = _mid_plan_run(board)
    _do(board, "a")
    _expand(board, "p", [task("c1")])
    before = board.snapshot()
    with pytest.raises(InvalidPlan, match="cycle"):
        board.add_tasks(run.id, [task("c2", parent="p", deps=("z",))], actor="w1")
    assert board.snapshot() == before


def _nested_run(board: SyncBoard) -> Run:
    """top (expands into mid, which expands, and side) -> end."""
    run = board.create_run(
        plan(task("top", role="lead", expand=True), task("end", deps=("top",)), roles=ROLES)
    )
    _expand(board, "top", [task("mid", role="lead", expand=True), task("side")])
    return run


def test_cancelling_a_parent_cancels_its_whole_sub_board(board: SyncBoard) -> None:
    run = _nested_run(board)
    _expand(board, "mid", [task("leaf1"), task("leaf2")])
    leaf = _claim(board, "side")
    board.cancel_task(f"{run.id}/top", actor="human:ann", reason="scrap it")
    assert set(_states(board, run).values()) == {TaskState.CANCELLED}
    assert board.claim("w2", ["worker", "lead"]) is None
    assert board.get_run(run.id).state is RunState.FINISHED
    # the holder of a cancelled child cannot hand it in
    with pytest.raises(LeaseLost):
        board.submit(leaf.task.id, leaf.token, {"late": True}, participant="w1")


@pytest.mark.parametrize("dep", ["end", "top"])
def test_a_grandchild_may_not_wait_for_what_waits_for_an_ancestor(
    board: SyncBoard, dep: str
) -> None:
    run = _nested_run(board)
    lease = _claim(board, "mid", "lead", who="lead-2")
    before = board.snapshot()["deps"]
    with pytest.raises(ContractViolation) as info:
        board.submit(
            lease.task.id, lease.token, {"tasks": [task("g1", deps=(dep,))]}, participant="lead-2"
        )
    assert any("cycle" in e and "'g1'" in e and f"'{dep}'" in e for e in info.value.errors)
    assert "g1" not in _states(board, run)
    assert board.snapshot()["deps"] == before


# --- add_tasks: peers handing work to other roles --------------------------------------


def _running_run(board: SyncBoard) -> Run:
    """a done, b running (held by w1), c failed."""
    run = board.create_run(
        plan(task("a"), task("b"), task("c", on_failure="continue"), roles=ROLES)
    )
    _do(board, "a")
    _claim(board, "b")
    _fail_for_good(board, "c")
    return run


def test_a_peer_adds_tasks_for_another_role_depending_on_existing_ones(board: SyncBoard) -> None:
    run = _running_run(board)
    added = board.add_tasks(
        run.id,
        [
            {"id": "check-b", "role": "qa", "depends_on": ["b"]},
            {"id": "report", "role": "qa", "depends_on": ["check-b", "a"]},
        ],
        actor="w1",
    )
    assert [t.key for t in added] == ["check-b", "report"]
    assert added[0].state is TaskState.PENDING
    assert added[0].depends_on == [f"{run.id}/b"]
    assert added[0].parent_id is None
    assert board.claim("qa-1", ["qa"]) is None

    created = [e for e in board.events(run.id) if e.kind == "task.created"][-2:]
    assert [e.actor for e in created] == ["w1", "w1"]

    b = board.get_task(f"{run.id}/b")
    board.submit(b.id, b.token, {"did": "b"}, participant="w1")
    assert _states(board, run)["check-b"] is TaskState.READY
    _do(board, "check-b", role="qa")
    _do(board, "report", role="qa")
    assert board.get_run(run.id).state is RunState.FINISHED


def test_a_task_depending_on_a_done_task_is_ready_at_once(board: SyncBoard) -> None:
    run = _running_run(board)
    (added,) = board.add_tasks(run.id, [{"id": "x", "role": "qa", "depends_on": ["a"]}], actor="w1")
    assert added.state is TaskState.READY
    assert added.pending_deps == 0
    lease = board.claim("qa-1", ["qa"])
    assert lease is not None
    assert lease.task.key == "x"


ADD_FAULTS = [
    pytest.param([{"id": "x", "role": "designer"}], "unknown_role", {"x"}, id="unknown-role"),
    pytest.param([{"id": "b", "role": "qa"}], "duplicate_id", {"b"}, id="duplicate-of-existing"),
    pytest.param(
        [{"id": "x", "role": "qa"}, {"id": "x", "role": "qa"}],
        "duplicate_id",
        {"x"},
        id="duplicate-among-new",
    ),
    pytest.param(
        [{"id": "x", "role": "qa", "depends_on": ["c"]}],
        "dependency_finished",
        {"x", "c"},
        id="depends-on-failed",
    ),
    pytest.param(
        [
            {"id": "x", "role": "qa", "depends_on": ["y"]},
            {"id": "y", "role": "qa", "depends_on": ["x"]},
        ],
        "cycle",
        {"x", "y"},
        id="cycle",
    ),
    pytest.param(
        [{"id": "x", "role": "qa", "depends_on": ["ghost"]}],
        "dangling_dependency",
        {"x", "ghost"},
        id="missing-dependency",
    ),
    pytest.param(
        [{"id": "x", "role": "qa", "budget": {"tokens": 0}}], "field", {"x"}, id="zero-budget"
    ),
]


@pytest.mark.parametrize(("tasks", "code", "ids"), ADD_FAULTS)
def test_invalid_additions_are_refused_whole_naming_ids(
    board: SyncBoard, tasks: list[dict[str, Any]], code: str, ids: set[str]
) -> None:
    run = _running_run(board)
    good = {"id": "fine", "role": "qa"}  # refused along with the bad ones: all or nothing
    before = board.snapshot()
    with pytest.raises(InvalidPlan) as info:
        board.add_tasks(run.id, [good, *tasks], actor="w1")
    assert board.snapshot() == before
    assert code in {p.code for p in info.value.problems}
    assert ids <= set(info.value.offending_ids)
    if code != "field":  # field errors name the position (tasks.1.budget...), ids in .problems
        for i in ids:
            assert f"'{i}'" in str(info.value) or f"{i} ->" in str(info.value)


def test_adding_tasks_to_a_finished_run_is_refused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), roles=ROLES))
    _do(board, "a")
    before = board.snapshot()
    with pytest.raises(InvalidArgument, match="finished"):
        board.add_tasks(run.id, [{"id": "late", "role": "qa"}], actor="w1")
    assert board.snapshot() == before


def test_added_tasks_keep_the_run_open_until_they_finish(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), roles=ROLES))
    lease = _claim(board, "a")
    board.add_tasks(run.id, [{"id": "follow-up", "role": "qa", "depends_on": ["a"]}], actor="w1")
    board.submit(lease.task.id, lease.token, {"did": "a"}, participant="w1")
    assert board.get_run(run.id).state is RunState.ACTIVE
    _do(board, "follow-up", role="qa")
    assert board.get_run(run.id).state is RunState.FINISHED
