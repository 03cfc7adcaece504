"""The pattern examples, run for real: real workers, a real SQLite file, no mocks.

Each example runs once per module (a few seconds in all); the tests read its outcome
from the board — final task states and the event log — never from printed text.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from baton import Board, RunState, TaskState
from examples._shared import ExampleResult, RunRecord
from examples.content_pipeline import agents as content_agents
from examples.content_pipeline.run import run_example as run_content
from examples.hierarchy.agents import ROUTING_TASK
from examples.hierarchy.run import run_example as run_hierarchy
from examples.payment_flow.run import run_example as run_payments
from examples.support_triage.run import run_example as run_triage

ROOT = Path(__file__).resolve().parent.parent
Runner = Callable[[str], Coroutine[Any, Any, ExampleResult]]


def _run(runner: Runner, tmp: pytest.TempPathFactory, name: str) -> ExampleResult:
    db = tmp.mktemp(name) / "board.db"
    return asyncio.run(asyncio.wait_for(runner(str(db)), timeout=60))


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> ExampleResult:
    return _run(run_triage, tmp_path_factory, "triage")


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> ExampleResult:
    return _run(run_hierarchy, tmp_path_factory, "hierarchy")


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> ExampleResult:
    return _run(run_content, tmp_path_factory, "content")


@pytest.fixture(scope="module")
def payments(tmp_path_factory: pytest.TempPathFactory) -> ExampleResult:
    return _run(run_payments, tmp_path_factory, "payments")


def done_seq(rec: RunRecord, key: str) -> int:
    """The seq of the event that made task ``key`` done."""
    return next(e.seq for e in rec.of(key) if e.payload.get("to") == "done")


def body(event: Any) -> dict[str, Any]:
    return dict(event.payload["body"])


def assert_finished(rec: RunRecord) -> None:
    assert rec.run.state is RunState.FINISHED
    assert rec.events[-1].kind == "run.finished"
    assert all(t.state is TaskState.DONE for t in rec.tasks.values())


def assert_failed(rec: RunRecord) -> None:
    """Ended with required work failed: said so in the state, the log and an escalation."""
    assert rec.run.state is RunState.FAILED
    assert [e.kind for e in rec.events[-2:]] == ["run.failed", "escalation.run_failed"]
    assert all(t.state in (TaskState.DONE, TaskState.FAILED) for t in rec.tasks.values())


# --- 1. support triage: peer-to-peer ----------------------------------------------------


def test_triage_has_no_planner_and_routes_by_adding_tasks(triage: ExampleResult) -> None:
    me = triage.workers["triage"]
    expected = {"charged_after_cancel": {"billing", "technical", "reply"}, "unresolvable": {}}
    expected["unresolvable"] = {"technical", "reply"}
    for label, rec in triage.runs.items():
        assert not any(t.role == "planner" or t.expand for t in rec.tasks.values())
        created = {rec.key_of(e.task_id): e.actor for e in rec.of(None, "task.created")}
        assert created.pop("triage") == "support-inbox"  # the run starts as one task
        assert created == dict.fromkeys(expected[label], me), label
        # ... added while the triage agent held its task
        claim, complete = rec.seq("triage", "task.claim"), rec.seq("triage", "task.complete")
        assert all(claim < rec.seq(k, "task.created") < complete for k in expected[label])


def test_billing_and_technical_collaborate_through_messages(triage: ExampleResult) -> None:
    rec = triage.runs["charged_after_cancel"]
    assert_finished(rec)
    assert {k: t.state for k, t in rec.tasks.items()} == dict.fromkeys(
        ["triage", "billing", "technical", "reply"], TaskState.DONE
    )
    w = triage.workers
    got = [(m.kind, m.actor, body(m).get("to_role"), rec.key_of(m.task_id)) for m in rec.messages]
    assert got == [
        ("message.handoff", w["billing"], "technical", "billing"),  # the charge, and a question
        ("message.handoff", w["technical"], "billing", "technical"),  # when it was canceled
        ("message.note", w["billing"], None, "billing"),  # the refund decision
    ]
    assert [m.seq for m in rec.messages] == sorted(m.seq for m in rec.messages)
    from_technical = rec.messages[1]
    assert "2025-02-27T18:40:12Z" in body(from_technical)["summary"]
    billing = rec.tasks["billing"].output
    assert billing["decision"] == "refund" and billing["amount_usd"] == 29.0
    assert billing["based_on_message"] == from_technical.seq
    assert from_technical.seq < done_seq(rec, "billing")
    # The reply depends on both, so it was claimed only after both were done.
    assert set(rec.tasks["reply"].depends_on) == {
        f"{rec.run.id}/billing",
        f"{rec.run.id}/technical",
    }
    first_reply = rec.seq("reply", "task.claim")
    assert first_reply > max(done_seq(rec, "billing"), done_seq(rec, "technical"))
    assert "refunded $29.00" in rec.tasks["reply"].output["body"]


def test_unresolvable_ticket_is_escalated_and_fails_for_good(triage: ExampleResult) -> None:
    rec = triage.runs["unresolvable"]
    assert_failed(rec)
    technical = rec.tasks["technical"]
    [escalation, task_failed, run_failed] = rec.escalations
    assert (task_failed.kind, task_failed.task_id) == ("escalation.task_failed", technical.id)
    assert run_failed.kind == "escalation.run_failed"
    assert escalation.kind == "escalation.agent"
    assert escalation.actor == triage.workers["technical"]
    assert escalation.task_id == technical.id
    assert escalation.payload["to"] == "human"
    evidence = escalation.payload["evidence"]
    assert evidence["deleted_days_ago"] == 45 and evidence["backup_retention_days"] == 30
    assert evidence["ticket"] == "T-1043" and len(evidence["checked"]) == 3
    # GiveUp: failed for good at the first attempt, right after the escalation.
    assert technical.state is TaskState.FAILED
    assert technical.attempts == 1 and technical.last_error is not None
    assert technical.last_error["type"] == "GiveUp"
    [fail] = rec.of("technical", "task.fail")
    assert fail.payload["reason"] == "final" and escalation.seq < fail.seq
    # No automated reply goes out: the human answers.
    reply = rec.tasks["reply"]
    assert reply.state is TaskState.FAILED and not rec.of("reply", "task.claim")
    assert reply.last_error == {
        "kind": "dependency_failed",
        "root_cause": technical.id,
        "via": technical.id,
    }


# --- 2. hierarchy: an architect over team leads --------------------------------------------

TREE = {
    "feature": ({"db", "api", "ops", ROUTING_TASK}, "architect"),
    "db": ({"db.schema", "db.migration"}, "db_lead"),
    "api": ({"api.contract", "api.endpoint", "api.tests"}, "api_lead"),
    "ops": ({"ops.ci", "ops.capacity", "ops.release"}, "devops_lead"),
}


def test_hierarchy_tree_is_planned_by_the_leads(hierarchy: ExampleResult) -> None:
    rec = hierarchy.runs["feature"]
    assert_finished(rec)
    assert all(t.state is TaskState.DONE for t in rec.tasks.values())
    for parent, (children, lead) in TREE.items():
        assert set(rec.children(parent)) == children
        assert rec.tasks[parent].expand
        for child in children:
            [created] = rec.of(child, "task.created")
            assert created.actor == hierarchy.workers[lead]
    leaves = set(rec.tasks) - set(TREE)
    assert {rec.tasks[k].role for k in leaves} == {"architect", "api_dev", "db_dev", "devops"}


def test_parents_finish_when_their_children_do(hierarchy: ExampleResult) -> None:
    rec = hierarchy.runs["feature"]
    for parent, (children, _lead) in TREE.items():
        [expand] = rec.of(parent, "task.expand")
        [finish] = rec.of(parent, "task.children_done")
        assert finish.seq == done_seq(rec, parent)
        assert all(expand.seq < rec.seq(c, "task.claim") for c in children)
        assert finish.seq > max(done_seq(rec, c) for c in children)
        results = rec.tasks[parent].output["results"]
        assert set(results) == children and all(v is not None for v in results.values())
    # The whole feature is done last, and then the run.
    assert done_seq(rec, "feature") == rec.events[-2].seq


def test_schema_change_is_routed_through_the_architect(hierarchy: ExampleResult) -> None:
    rec, w = hierarchy.runs["feature"], hierarchy.workers
    [db_says, architect_says] = rec.messages
    # The DB developer tells the architect (not the API team)...
    assert (db_says.actor, body(db_says)["to_role"]) == (w["db_dev"], "architect")
    assert "total_cents" in body(db_says)["summary"]
    # ...the architect reviews the schema...
    [approve] = rec.of("db.schema", "task.approve")
    assert approve.actor == w["architect"] and approve.seq > db_says.seq
    # ...and routes it to the API team, in its own task.
    assert (architect_says.actor, body(architect_says)["to_role"]) == (w["architect"], "api_dev")
    assert rec.key_of(architect_says.task_id) == ROUTING_TASK
    routed = done_seq(rec, ROUTING_TASK)
    assert approve.seq < architect_says.seq < routed
    # The endpoint depends on the routing task, so it could not start before it was done.
    endpoint = rec.tasks["api.endpoint"]
    assert f"{rec.run.id}/{ROUTING_TASK}" in endpoint.depends_on
    assert min(e.seq for e in rec.of("api.endpoint", "task.claim")) > routed
    # The draft contract (written in parallel) had the old field; the endpoint has the new.
    assert "total" in rec.tasks["api.contract"].output["fields"]
    assert "total_cents" in endpoint.output["fields"]
    assert endpoint.output["paging"].startswith("cursor")
    # Teams never message each other directly.
    for m in rec.messages:
        to = body(m)["to_role"]
        assert not (m.actor.startswith("db") and to.startswith("api"))
        assert not (to.startswith("api") and m.actor != w["architect"])


def test_a_task_added_under_a_waiting_team_task_is_waited_for(tmp_path: Path) -> None:
    """Why the hierarchy example routes through a planned architect task: a developer
    cannot add a review task *inside* its team (the team would finish without it)."""

    async def scenario() -> tuple[TaskState, TaskState]:
        board = Board.open(str(tmp_path / "board.db"))
        try:
            run = await board.create_run(
                {
                    "goal": "g",
                    "roles": ["db_lead", "db_dev", "architect"],
                    "tasks": [{"id": "db", "role": "db_lead", "expand": True}],
                }
            )
            lead = await board.claim("db_lead-agent", "db_lead", run_id=run.id)
            assert lead is not None
            subplan = {"tasks": [{"id": "db.schema", "role": "db_dev"}]}
            await board.submit(lead.task.id, lead.token, subplan, participant="db_lead-agent")
            dev = await board.claim("db_dev-agent", "db_dev", run_id=run.id)
            assert dev is not None
            review = {"id": "db.review", "role": "architect", "parent": "db"}
            await board.add_tasks(run.id, [review], actor="db_dev-agent")
            await board.submit(dev.task.id, dev.token, {"tables": 2}, participant="db_dev-agent")
            team = await board.get_task(f"{run.id}/db")
            added = await board.get_task(f"{run.id}/db.review")
            return team.state, added.state
        finally:
            await board.close()

    team, added = asyncio.run(scenario())
    assert added is TaskState.READY
    assert team is TaskState.PENDING  # the team must wait for the child added under it


# --- 3. content pipeline: a real review loop -------------------------------------------------


def test_editor_rejects_the_first_draft_once_with_feedback(content: ExampleResult) -> None:
    rec = content.runs["article"]
    [reject] = rec.of(None, "task.reject")
    assert rec.key_of(reject.task_id) == "draft"
    assert reject.actor == content.workers["editor"]
    feedback = reject.payload["feedback"]
    assert len(feedback) == 3
    assert feedback[0].startswith("Paragraph 1: cite a source for 'Enterprise inquiries")
    assert feedback[1].startswith("Paragraph 2: cite a source for 'A task that takes 5,000")
    assert feedback[2] == "Headline is 78 characters; keep it to 70"
    draft = rec.tasks["draft"]
    assert draft.review_rounds == 1
    assert [r["items"] for r in draft.feedback] == [feedback]
    assert draft.feedback[0]["by"] == content.workers["editor"]


def test_the_second_draft_addresses_the_feedback(content: ExampleResult) -> None:
    rec = content.runs["article"]
    draft = rec.tasks["draft"]
    [reject] = rec.of("draft", "task.reject")
    first, second = rec.of("draft", "task.claim")
    assert first.seq < reject.seq < second.seq
    [approve] = rec.of("draft", "task.approve")
    assert approve.seq > second.seq
    out = draft.output
    assert out["draft"] == 2
    assert out["addressed"] == reject.payload["feedback"]
    assert len(out["headline"]) <= content_agents.MAX_HEADLINE
    assert [p.endswith(("[1]", "[2]")) for p in out["paragraphs"]] == [True, True, False]
    assert len(out["citations"]) == 2
    assert content_agents.review_article(out) == []  # by the editor's own rubric


def test_pipeline_runs_in_order_and_finishes(content: ExampleResult) -> None:
    rec = content.runs["article"]
    assert_finished(rec)
    assert all(t.state is TaskState.DONE for t in rec.tasks.values())
    assert done_seq(rec, "research") < rec.seq("draft", "task.claim")
    assert done_seq(rec, "draft") < rec.seq("visuals", "task.claim")
    assert done_seq(rec, "visuals") < rec.seq("publish", "task.claim")
    assert len(rec.of("visuals", "task.approve")) == 1  # the editor passed it first time
    assert len(rec.tasks["visuals"].output["charts"]) == 2
    assert rec.tasks["publish"].output["url"].endswith("why-ai-agent-teams-need-a-shared-board")


# --- 4. payment flow: the fraud check gates everything after it ------------------------------

DOWNSTREAM = ("payment", "accounting", "confirmation_email")


def test_clean_transaction_completes(payments: ExampleResult) -> None:
    rec = payments.runs["clean"]
    assert_finished(rec)
    assert all(t.state is TaskState.DONE for t in rec.tasks.values())
    for key in ("accounting", "confirmation_email"):
        assert rec.seq(key, "task.claim") > done_seq(rec, "payment")
    assert done_seq(rec, "fraud_check") < rec.seq("payment", "task.claim")
    assert rec.tasks["fraud_check"].output["score"] == 0
    assert rec.tasks["accounting"].output["reference"] == rec.tasks["payment"].output["charge"]
    assert rec.tasks["confirmation_email"].output["sent"] is True


def test_fraud_check_failure_means_downstream_never_starts(payments: ExampleResult) -> None:
    rec = payments.runs["fraudulent"]
    assert_failed(rec)
    assert rec.tasks["validate"].state is TaskState.DONE
    fraud = rec.tasks["fraud_check"]
    assert fraud.state is TaskState.FAILED and fraud.attempts == 1
    assert fraud.last_error is not None and fraud.last_error["type"] == "GiveUp"
    assert "fraud score 110" in fraud.last_error["message"]
    [fail] = rec.of("fraud_check", "task.fail")
    assert fail.payload["reason"] == "final"
    for key in DOWNSTREAM:
        task = rec.tasks[key]
        assert task.state is TaskState.FAILED
        assert task.last_error is not None
        assert task.last_error["root_cause"] == fraud.id
        assert task.attempts == 0 and not rec.of(key, "task.claim")
        assert [e.kind for e in rec.of(key)] == ["task.created", "task.dep_failed"]
    # The cascade is part of the same transaction as the failure: the very next events.
    cascade = sorted(e.seq for e in rec.of(None, "task.dep_failed"))
    assert cascade == [fail.seq + 2, fail.seq + 3, fail.seq + 4]  # after the escalation:
    assert [e.kind for e in rec.of("fraud_check")][-1] == "escalation.task_failed"


# --- every example also runs as a script ------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["support_triage", "hierarchy", "content_pipeline", "payment_flow"]
)
def test_example_runs_as_a_script(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"examples.{name}.run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
