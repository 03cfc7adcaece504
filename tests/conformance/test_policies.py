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


RATES: dict[str, Any] = {
    "rate_limits": [
        # a day-long window: the test cannot straddle two of them
        {"name": "two notes a day", "roles": ["chatty"], "actions": ["post_message"],
         "max": 2, "per_s": 86400},
        {"name": "one claim a day", "participants": ["greedy"], "actions": ["claim"],
         "max": 1, "per_s": 86400},
    ]
}  # fmt: skip


def test_rate_limits_count_each_participant_across_its_logins(board: SyncBoard) -> None:
    board.set_policy(RATES)
    run = board.create_run(plan(task("a"), task("b"), task("c"), roles=ROLES))
    _, token = board.add_participant("bot", kind="agent", roles=["chatty", "worker"], runs=["*"])
    first, second = board.login(token), board.login(token)  # two doors, one count
    first.post_message(run.id, "note", {"text": "1"}, sender="bot")
    second.post_message(run.id, "note", {"text": "2"}, sender="bot")
    error = _policy_denied(board, first.post_message, run.id, "note", {"text": "3"}, sender="bot")
    assert error.rule == "two notes a day" and "at most 2 per 86400 s" in str(error)
    assert error.participant == "bot"
    # what the rule does not name is not limited: other actions, other participants,
    # the board's owner
    assert first.claim("bot", ["worker"], run_id=run.id) is not None
    quiet = _member(board, "quiet", roles=["worker"], runs=["*"])
    for i in range(3):
        quiet.post_message(run.id, "note", {"text": f"{i}"}, sender="quiet")
        board.post_message(run.id, "note", {"text": f"{i}"}, sender="lead")
    greedy = _member(board, "greedy", roles=["worker"], runs=["*"])
    assert greedy.claim("greedy", ["worker"], run_id=run.id) is not None
    denied = _policy_denied(board, greedy.claim, "greedy", ["worker"], run_id=run.id)
    assert denied.rule == "one claim a day"


def test_rate_limits_take_effect_with_the_policy_and_go_with_it(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), roles=ROLES))
    chatty = _member(board, "bot", roles=["chatty"], runs=["*"])
    for i in range(3):  # no policy yet
        chatty.post_message(run.id, "note", {"text": f"{i}"}, sender="bot")
    board.set_policy(RATES)
    chatty.post_message(run.id, "note", {"text": "a"}, sender="bot")
    chatty.post_message(run.id, "note", {"text": "b"}, sender="bot")
    _policy_denied(board, chatty.post_message, run.id, "note", {"text": "c"}, sender="bot")
    board.set_policy({"name": "no limits"})
    chatty.post_message(run.id, "note", {"text": "d"}, sender="bot")


def test_a_rate_limit_names_known_actions(board: SyncBoard) -> None:
    for bad, named in (
        ({"name": "x", "actions": ["clam"], "max": 1, "per_s": 60}, "clam"),
        ({"name": "x", "max": 0, "per_s": 60}, "rate_limits.0.max"),
        ({"name": "x", "max": 1, "per_s": 0}, "rate_limits.0.per_s"),
        ({"name": "x", "max": 1, "per_s": 60, "actions": []}, "rate_limits.0.actions"),
    ):
        error = refused(board, InvalidArgument, board.set_policy, {"rate_limits": [bad]})
        assert named in str(error), (named, str(error))
    error = refused(
        board, InvalidArgument, board.set_policy, {"role_budgets": [{"name": "r", "role": "w",
                                                                      "tokens": 0}]}
    )  # fmt: skip
    assert "role_budgets.0.tokens" in str(error)
    assert board.policy() is None


def test_a_role_budget_pauses_the_run_when_the_role_has_spent_it(board: SyncBoard) -> None:
    board.set_policy(
        {"role_budgets": [{"name": "workers share $1.50", "role": "worker", "cost_usd": 1.5}]}
    )
    run = board.create_run(
        plan(task("a"), task("b"), task("c"), task("r", "reviewer"), roles=ROLES)
    )
    [triggered] = board.check_policy(plan(task("a"), roles=ROLES)).triggered
    assert triggered.effect == "worker tasks spend at most $1.5"
    review = claim(board, "r1", ["reviewer"], run_id=run.id)
    board.record_usage(review.task.id, model="m", input_tokens=1, output_tokens=1,
                       cost_usd=5.0, actor="r1")  # fmt: skip
    first = claim(board, "w1", ["worker"], run_id=run.id)
    board.record_usage(first.task.id, model="m", input_tokens=1, output_tokens=1,
                       cost_usd=1.0, actor="w1")  # fmt: skip
    assert board.get_run(run.id).state.value == "active"  # $1 of the workers' $1.50
    second = claim(board, "w2", ["worker"], run_id=run.id)
    board.record_usage(second.task.id, model="m", input_tokens=1, output_tokens=1,
                       cost_usd=0.75, actor="w2")  # fmt: skip
    paused = board.get_run(run.id)
    assert paused.state.value == "paused"
    assert "workers share $1.50" in (paused.paused_reason or "")
    [escalation] = board.escalations(run.id)
    evidence = escalation.payload["evidence"]
    assert (evidence["role"], evidence["cost_used"]) == ("worker", 1.75)
    assert board.claim("w3", ["worker"], run_id=run.id) is None  # nothing new is claimed


def test_queue_depth_per_role(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("a"), task("b"), task("c", deps=("a",)), task("r", "reviewer"), roles=ROLES)
    )
    assert board.ready_by_role(run.id) == {"worker": 2, "reviewer": 1}
    claim(board, "w1", ["worker"], run_id=run.id)
    assert board.ready_by_role(run.id) == {"worker": 1, "reviewer": 1}
