"""Policies as data, enforced in the Board for every door: who may create runs, which
tasks need approval, budgets and limits, which roles may run which side effects —
versioned, recorded on each run, refusals named and on record."""

from __future__ import annotations

from typing import Any

import pytest

from baton import InvalidArgument, PermissionDenied, SyncBoard, TaskState
from baton.model.errors import PolicyDenied
from tests.conformance._util import claim, refused
from tests.conformance.authz import _state
from tests.helpers import plan, task

POLICY: dict[str, Any] = {
    "name": "acme",
    "create_runs": {"participants": ["lead"], "roles": ["planner"]},
    "approvals": [
        {"name": "deploys need a person", "roles": ["deployer"]},
        {"name": "prod label", "labels": ["prod"]},
        {"name": "expensive", "cost_over_usd": 5.0},
    ],
    "run_budget": {"default": {"cost_usd": 20.0}, "max": {"cost_usd": 50.0}},
    "task_budgets": [
        {"name": "workers are cheap", "roles": ["worker"], "cost_usd": 1.0, "max_attempts": 2}
    ],
    "tools": [{"role": "worker", "allow": ["send_*"]}, {"role": "*", "allow": ["log"]}],
}
ROLES = ("worker", "deployer", "reviewer")


def _member(board: SyncBoard, pid: str, **kw: Any) -> SyncBoard:
    kw.setdefault("kind", "agent")
    _, token = board.add_participant(pid, **kw)
    return board.login(token)


def _policy_denied(board: SyncBoard, call: Any, *args: Any, **kw: Any) -> PolicyDenied:
    before, seq = _state(board), board.last_seq()
    with pytest.raises(PolicyDenied) as info:
        call(*args, **kw)
    assert _state(board) == before, "a refused call changed the board"
    [record] = board.events(since=seq)
    assert record.kind == "policy.denied"
    assert record.payload["rule"] == info.value.rule
    return info.value


def test_a_policy_shapes_every_run_created_after_it(board: SyncBoard) -> None:
    record = board.set_policy(POLICY)
    assert (record.version, record.policy.name) == (1, "acme")
    run = board.create_run(
        plan(
            task("build", "worker", budget={"cost_usd": 3.0}, max_attempts=5),
            task("ship", "deployer", deps=("build",)),
            task("tag", "reviewer", labels=["prod"]),
            task("big", "reviewer", budget={"cost_usd": 9.0}),
            task("small", "reviewer"),
            roles=ROLES,
        )
    )
    tasks = {t.key: t for t in board.tasks(run.id)}
    assert tasks["build"].budget == {"tokens": None, "cost_usd": 1.0}
    assert tasks["build"].max_attempts == 2
    needs = {k for k, t in tasks.items() if t.requires_approval}
    assert needs == {"ship", "tag", "big"}
    assert run.budget is not None and run.budget["cost_usd"] == 20.0
    created = next(e for e in board.events(run.id) if e.kind == "run.created")
    assert created.payload["policy"]["version"] == 1
    rules = {t["rule"] for t in created.payload["policy"]["triggered"]}
    assert {"deploys need a person", "prod label", "expensive", "workers are cheap"} <= rules
    # tasks added later follow the run's policy too
    [added] = board.add_tasks(run.id, [task("redeploy", "deployer")], actor="lead")
    assert added.requires_approval


def test_run_budget_is_capped(board: SyncBoard) -> None:
    board.set_policy(POLICY)
    run = board.create_run({**plan(task("a"), roles=ROLES), "budget": {"cost_usd": 500.0}})
    assert run.budget is not None and run.budget["cost_usd"] == 50.0


def test_who_may_create_runs(board: SyncBoard) -> None:
    board.set_policy(POLICY)
    outsider = _member(board, "eve", grants=["create_runs"])
    error = _policy_denied(board, outsider.create_run, plan(task("a"), roles=ROLES))
    assert error.rule == "create_runs" and "eve" in str(error)
    lead = _member(board, "lead", grants=["create_runs"])
    assert lead.create_run(plan(task("a"), roles=ROLES)).state.value == "active"
    planner = _member(board, "p1", roles=["planner"], grants=["create_runs"])
    planner.create_run(plan(task("b"), roles=ROLES))


def test_which_roles_may_run_which_effects(board: SyncBoard) -> None:
    board.set_policy(POLICY)
    run = board.create_run(plan(task("a", "worker"), task("d", "deployer"), roles=ROLES))
    work = claim(board, "w1", ["worker"], run_id=run.id)
    assert board.start_effect(work.task.id, work.token, "send_email", participant="w1").decision
    assert board.start_effect(work.task.id, work.token, "log", participant="w1").decision
    error = _policy_denied(
        board, board.start_effect, work.task.id, work.token, "charge_card", participant="w1"
    )
    assert error.rule == "tools" and "charge_card" in str(error)
    deploy = claim(board, "w2", ["deployer"], run_id=run.id)
    _policy_denied(
        board, board.start_effect, deploy.task.id, deploy.token, "send_email", participant="w2"
    )


def test_a_run_keeps_the_policy_it_was_created_under(board: SyncBoard) -> None:
    board.set_policy(POLICY)
    run = board.create_run(plan(task("a", "worker"), roles=ROLES))
    v2 = board.set_policy({**POLICY, "name": "open", "tools": None})
    assert v2.version == 2 and board.policy().version == 2  # type: ignore[union-attr]
    work = claim(board, "w1", ["worker"], run_id=run.id)
    _policy_denied(
        board, board.start_effect, work.task.id, work.token, "charge_card", participant="w1"
    )
    later = board.create_run(plan(task("b", "worker"), roles=ROLES))
    other = claim(board, "w2", ["worker"], run_id=later.id)
    assert board.start_effect(other.task.id, other.token, "charge_card", participant="w2")


def test_check_shows_what_a_plan_would_trigger_and_writes_nothing(board: SyncBoard) -> None:
    empty = board.check_policy(plan(task("a"), roles=ROLES))
    assert (empty.version, empty.may_create, empty.triggered) == (None, True, [])
    board.set_policy(POLICY)
    before = board.snapshot()
    found = board.check_policy(plan(task("ship", "deployer"), roles=ROLES))
    assert board.snapshot() == before
    assert found.version == 1 and found.may_create
    assert [t.effect for t in found.triggered if t.task == "ship"] == ["needs human approval"]
    assert found.plan.tasks[0].requires_approval
    outsider = _member(board, "eve", grants=["create_runs"])
    refusal = outsider.check_policy(plan(task("a"), roles=ROLES))
    assert not refusal.may_create and "create_runs" in (refusal.refusal or "")


def test_setting_a_policy_needs_admin_and_a_valid_document(board: SyncBoard) -> None:
    someone = _member(board, "bob", grants=["create_runs"])
    with pytest.raises(PermissionDenied):
        someone.set_policy(POLICY)
    for bad, named in (
        ({"approvals": [{"roles": ["x"]}]}, "approvals.0.name"),
        ({"tools": [{"role": "w", "allow": "send"}]}, "tools.0.allow"),
        ({"run_budget": {"max": {"cost_usd": -1}}}, "run_budget.max.cost_usd"),
        ({"unknown": 1}, "unknown"),
    ):
        error = refused(board, InvalidArgument, board.set_policy, bad)
        assert named in str(error), (named, str(error))
    assert board.policy() is None


def test_approval_from_policy_gates_completion(board: SyncBoard) -> None:
    board.set_policy(POLICY)
    run = board.create_run(plan(task("ship", "deployer"), roles=ROLES))
    lease = claim(board, "w1", ["deployer"], run_id=run.id)
    board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    assert board.get_task(lease.task.id).state is TaskState.AWAITING_APPROVAL
