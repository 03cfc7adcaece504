"""Creating runs from plans: a plan is validated whole, and refused whole, before any write."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from baton import (
    ContractViolation,
    InvalidArgument,
    InvalidPlan,
    Plan,
    RunState,
    SyncBoard,
    TaskSpec,
    TaskState,
)
from tests.conformance._util import claim, refused, tasks_by_key, tid
from tests.helpers import ManualClock, plan, task


def _codes(exc: InvalidPlan) -> set[str]:
    return {p.code for p in exc.problems}


def _ids_for(exc: InvalidPlan, code: str) -> set[str]:
    return {i for p in exc.problems if p.code == code for i in p.ids}


# --- accepted plans -----------------------------------------------------------------------


def test_a_dict_plan_becomes_a_run_with_its_tasks(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("a", title="A", input={"n": 1}, priority=5, acceptance_criteria=["works"]),
            task("b", deps=("a",), reviewer_role="reviewer"),
        )
    )
    assert run.state is RunState.ACTIVE
    assert run.goal == "test goal"
    assert board.get_run(run.id) == run
    tasks = tasks_by_key(board, run)
    assert set(tasks) == {"a", "b"}
    a, b = tasks["a"], tasks["b"]
    assert a.id == tid(run, "a") and a.run_id == run.id
    assert (a.title, a.input, a.priority, a.acceptance_criteria) == ("A", {"n": 1}, 5, ["works"])
    assert a.state is TaskState.READY, "a task without dependencies is ready at once"
    assert b.state is TaskState.PENDING, "a task with dependencies waits for them"
    assert b.depends_on == [a.id]
    assert b.reviewer_role == "reviewer"
    kinds = [e.kind for e in board.events(run.id)]
    assert kinds == ["run.created", "task.created", "task.created"]


def test_a_plan_object_is_accepted(board: SyncBoard) -> None:
    p = Plan(
        goal="ship it",
        roles=["worker"],
        tasks=[TaskSpec(id="a", role="worker"), TaskSpec(id="b", role="worker", depends_on=["a"])],
    )
    run = board.create_run(p)
    assert run.goal == "ship it"
    assert {t.key: t.state for t in board.tasks(run.id)} == {
        "a": TaskState.READY,
        "b": TaskState.PENDING,
    }


def test_an_explicit_run_id_is_used_and_cannot_be_reused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")), run_id="r-mine")
    assert run.id == "r-mine"
    assert board.get_task("r-mine/a").key == "a"
    refused(board, InvalidArgument, board.create_run, plan(task("a")), run_id="r-mine")


class Summary(BaseModel):
    title: str
    words: int


def test_a_pydantic_model_class_as_contract_is_converted(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(
        plan(
            task(
                "a",
                output_contract=Summary,
                input_contract=Summary,
                input={"title": "t", "words": 1},
            )
        )
    )
    stored = board.get_task(tid(run, "a"))
    assert stored.output_contract == Summary.model_json_schema()
    assert stored.input_contract == Summary.model_json_schema()
    lease = claim(board)
    with pytest.raises(ContractViolation):
        board.submit(lease.task.id, lease.token, {"title": "t"}, participant="w1")
    clock.advance(3600)  # past the retry backoff
    lease = claim(board)
    done = board.submit(lease.task.id, lease.token, {"title": "t", "words": 3}, participant="w1")
    assert done.state is TaskState.DONE


def test_a_pydantic_model_class_in_a_plan_object_is_converted(board: SyncBoard) -> None:
    spec = TaskSpec(id="a", role="worker", output_contract=Summary)
    assert spec.output_contract == Summary.model_json_schema()
    run = board.create_run(Plan(goal="g", roles=["worker"], tasks=[spec]))
    assert board.get_task(tid(run, "a")).output_contract == Summary.model_json_schema()


# --- refused plans: the exact error, every offending id, and nothing written ---------------


def _refused_plan(board: SyncBoard, raw: Any) -> InvalidPlan:
    board.create_run(plan(task("existing")))  # the store is not empty: nothing may be added
    return refused(board, InvalidPlan, board.create_run, raw)


def test_a_cycle_is_refused_naming_its_ids(board: SyncBoard) -> None:
    exc = _refused_plan(
        board,
        plan(
            task("a", deps=("c",)),
            task("b", deps=("a",)),
            task("c", deps=("b",)),
            task("d"),
            task("e", deps=("d",)),
        ),
    )
    assert _codes(exc) == {"cycle"}
    assert exc.offending_ids == ["a", "b", "c"]
    message = str(exc)
    assert all(i in message for i in ("a", "b", "c"))


def test_a_self_dependency_is_a_cycle(board: SyncBoard) -> None:
    exc = _refused_plan(board, plan(task("a", deps=("a",)), task("b")))
    assert _codes(exc) == {"cycle"}
    assert exc.offending_ids == ["a"]


def test_two_separate_cycles_are_both_named(board: SyncBoard) -> None:
    exc = _refused_plan(
        board,
        plan(
            task("a", deps=("b",)),
            task("b", deps=("a",)),
            task("x", deps=("y",)),
            task("y", deps=("x",)),
            task("ok"),
        ),
    )
    cycles = [set(p.ids) for p in exc.problems if p.code == "cycle"]
    assert sorted(cycles, key=sorted) == [{"a", "b"}, {"x", "y"}]
    assert exc.offending_ids == ["a", "b", "x", "y"]


def test_a_dangling_dependency_is_refused(board: SyncBoard) -> None:
    exc = _refused_plan(board, plan(task("a"), task("b", deps=("a", "ghost"))))
    assert _codes(exc) == {"dangling_dependency"}
    assert exc.offending_ids == ["b", "ghost"]


def test_duplicate_ids_are_refused(board: SyncBoard) -> None:
    exc = _refused_plan(board, plan(task("a"), task("b"), task("a", title="again")))
    assert _codes(exc) == {"duplicate_id"}
    assert exc.offending_ids == ["a"]


@pytest.mark.parametrize("field", ["role", "reviewer_role"])
def test_an_unknown_role_is_refused(board: SyncBoard, field: str) -> None:
    extra: dict[str, Any] = {field: "astronaut"}
    exc = _refused_plan(board, plan(task("a"), task("b", **extra)))
    assert _codes(exc) == {"unknown_role"}
    assert exc.offending_ids == ["b"]
    assert "astronaut" in str(exc)


@pytest.mark.parametrize("field", ["input_contract", "output_contract"])
def test_an_invalid_contract_is_refused(board: SyncBoard, field: str) -> None:
    extra: dict[str, Any] = {field: {"type": "no-such-type"}}
    exc = _refused_plan(board, plan(task("a"), task("b", **extra)))
    assert _codes(exc) == {"invalid_contract"}
    assert exc.offending_ids == ["b"]


def test_input_breaking_its_input_contract_is_refused(board: SyncBoard) -> None:
    contract = {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}
    exc = _refused_plan(
        board,
        plan(
            task("good", input={"url": "x"}, input_contract=contract),
            task("bad", input={"url": 5}, input_contract=contract),
        ),
    )
    assert _codes(exc) == {"input_breaks_contract"}
    assert exc.offending_ids == ["bad"]


@pytest.mark.parametrize(
    "bad",
    [
        {"priority": "high"},
        {"max_attempts": 0},
        {"lease_s": 0},
        {"on_failure": "explode"},
        {"depends_on": "a"},
        {"colour": "red"},
        {"role": ""},
    ],
    ids=lambda d: next(iter(d)),
)
def test_a_malformed_field_is_refused_naming_the_task(
    board: SyncBoard, bad: dict[str, Any]
) -> None:
    exc = _refused_plan(board, plan(task("a"), {**task("b"), **bad}))
    assert _codes(exc) == {"field"}
    assert exc.offending_ids == ["b"]


@pytest.mark.parametrize(
    "raw",
    [
        {"goal": "", "roles": ["worker"], "tasks": [task("a")]},
        {"goal": "g", "roles": [], "tasks": [task("a")]},
        {"goal": "g", "roles": ["worker"], "tasks": []},
        {"roles": ["worker"], "tasks": [task("a")]},
    ],
    ids=["empty-goal", "no-roles", "no-tasks", "missing-goal"],
)
def test_a_malformed_plan_is_refused(board: SyncBoard, raw: dict[str, Any]) -> None:
    exc = _refused_plan(board, raw)
    assert _codes(exc) == {"field"}


def test_a_task_id_that_is_not_an_identifier_is_refused(board: SyncBoard) -> None:
    exc = _refused_plan(board, plan(task("a"), task("has space")))
    assert exc.offending_ids == ["has space"]


def test_several_structural_faults_are_all_reported(board: SyncBoard) -> None:
    exc = _refused_plan(
        board,
        plan(
            task("dup"),
            task("dup"),
            task("loop1", deps=("loop2",)),
            task("loop2", deps=("loop1",)),
            task("dangling", deps=("nowhere",)),
            task("alien", role="alien"),
            task("critic", reviewer_role="alien"),
            task("badschema", output_contract={"type": 42}),
            task(
                "badinput",
                input={"n": "x"},
                input_contract={"properties": {"n": {"type": "integer"}}},
            ),
            task("fine"),
        ),
    )
    assert _codes(exc) == {
        "duplicate_id",
        "cycle",
        "dangling_dependency",
        "unknown_role",
        "invalid_contract",
        "input_breaks_contract",
    }
    assert _ids_for(exc, "cycle") == {"loop1", "loop2"}
    assert _ids_for(exc, "unknown_role") == {"alien", "critic"}
    assert exc.offending_ids == sorted(
        ["dup", "loop1", "loop2", "dangling", "nowhere", "alien", "critic", "badschema", "badinput"]
    )


def test_several_malformed_fields_are_all_reported(board: SyncBoard) -> None:
    exc = _refused_plan(
        board, plan(task("a", priority="high"), task("b", max_attempts=0), task("c"))
    )
    assert exc.offending_ids == ["a", "b"]
    assert len(exc.problems) == 2


def test_malformed_fields_and_structural_faults_are_reported_together(board: SyncBoard) -> None:
    exc = _refused_plan(
        board,
        plan(task("a", priority="high"), task("b", deps=("ghost",)), task("c", role="alien")),
    )
    assert {"field", "dangling_dependency", "unknown_role"} <= _codes(exc)
    assert exc.offending_ids == ["a", "b", "c", "ghost"]


def test_a_plan_object_is_checked_too(board: SyncBoard) -> None:
    p = Plan(
        goal="g",
        roles=["worker"],
        tasks=[TaskSpec(id="a", role="worker", depends_on=["ghost"]), TaskSpec(id="b", role="x")],
    )
    exc = refused(board, InvalidPlan, board.create_run, p)
    assert _codes(exc) == {"dangling_dependency", "unknown_role"}
    assert exc.offending_ids == ["a", "b", "ghost"]
