"""Structured messages: schema-checked notes between participants, stored as events."""

from __future__ import annotations

from typing import Any

import pytest

from baton import InvalidArgument, InvalidMessage, NotFound, SyncBoard
from tests.conformance._util import claim, last_seq, over_http, refused, tid, unchanged
from tests.helpers import ManualClock, plan, task

VALID: dict[str, dict[str, Any]] = {
    "blocked_by": {"task": "b", "blocked_by": "a", "reason": "needs the schema first"},
    "question": {"question": "which region?", "to_role": "worker"},
    "answer": {"question_seq": 3, "answer": "eu-west"},
    "handoff": {
        "to_role": "reviewer",
        "summary": "draft ready",
        "task": "a",
        "data": {"draft": 2, "files": ["docs/api.md"]},
    },
    "note": {"text": "fyi", "data": {}},
}


@pytest.mark.parametrize("kind", VALID)
def test_each_kind_of_message_is_posted_as_an_event(
    board: SyncBoard, clock: ManualClock, kind: str
) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    before = last_seq(board)
    event = board.post_message(
        run.id, kind, VALID[kind], sender="w1", to="w2", task_id=tid(run, "b")
    )
    assert event.seq == before + 1
    assert event.kind == f"message.{kind}"
    assert (event.run_id, event.task_id, event.actor, event.at) == (
        run.id,
        tid(run, "b"),
        "w1",
        clock.now,
    )
    assert event.payload == {"to": "w2", "body": VALID[kind]}
    assert board.events(run.id, since=before) == [event]


def test_optional_fields_are_filled_in(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    event = board.post_message(run.id, "question", {"question": "why?"}, sender="w1")
    assert event.payload == {"to": None, "body": {"question": "why?", "to_role": None}}
    assert event.task_id is None


def test_an_unknown_kind_is_refused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    exc = refused(
        board, InvalidMessage, board.post_message, run.id, "gossip", {"text": "x"}, sender="w1"
    )
    assert "gossip" in str(exc)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("note", {}),
        ("note", {"text": ""}),
        ("note", {"text": "x", "extra": 1}),
        ("question", {"question": ["not", "text"]}),
        ("answer", {"answer": "no seq"}),
        ("answer", {"question_seq": "three", "answer": "x"}),
        ("blocked_by", {"task": "b", "blocked_by": "a"}),
        ("handoff", {"summary": "no role"}),
    ],
    ids=lambda v: str(v),
)
def test_a_bad_body_is_refused(board: SyncBoard, kind: str, body: dict[str, Any]) -> None:
    run = board.create_run(plan(task("a")))
    exc = refused(board, InvalidMessage, board.post_message, run.id, kind, body, sender="w1")
    assert kind in str(exc)


def test_a_message_to_an_unknown_run_is_refused(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    exc = refused(board, NotFound, board.post_message, "r-nope", "note", {"text": "x"}, sender="w")
    assert exc.ident == "r-nope"
    assert "r-nope" in str(exc)


def test_a_message_about_an_unknown_task_is_refused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    ghost = tid(run, "ghost")
    exc = refused(
        board,
        NotFound,
        board.post_message,
        run.id,
        "note",
        {"text": "x"},
        sender="w",
        task_id=ghost,
    )
    assert exc.ident == ghost


def test_the_briefing_holds_the_run_its_messages_and_the_dependencies_asked_for(
    board: SyncBoard,
) -> None:
    """What a worker reads before an attempt, in one call: the dependencies come in the
    order asked, with their outputs."""
    run = board.create_run(plan(task("a"), task("b"), task("c", deps=("a", "b"))))
    board.post_message(run.id, "note", {"text": "fyi"}, sender="ann")
    for _ in range(2):
        lease = claim(board, "w1")
        board.submit(lease.task_id, lease.token, {"from": lease.task.key}, participant="w1")
    c = board.get_task(tid(run, "c"))
    briefing = board.briefing(run.id, messages=10, dependencies=list(reversed(c.depends_on)))
    assert briefing.run.id == run.id
    assert [m.kind for m in briefing.messages] == ["message.note"]
    assert [d.key for d in briefing.dependencies] == ["b", "a"]
    assert [d.output for d in briefing.dependencies] == [{"from": "b"}, {"from": "a"}]
    assert board.briefing(run.id).dependencies == [], "none asked for, none read"


def test_a_briefing_asking_for_tasks_that_are_not_the_runs_is_refused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    other = board.create_run(plan(task("x")))
    with unchanged(board):
        exc = refused(board, NotFound, board.briefing, run.id, dependencies=[tid(other, "x")])
        assert tid(other, "x") in str(exc), "a task of another run is not this run's"
        exc = refused(board, NotFound, board.briefing, run.id, dependencies=[f"{run.id}/nope"])
        assert f"{run.id}/nope" in str(exc)
        refused(board, NotFound, board.briefing, "no-such-run", dependencies=[tid(run, "a")])
    if not over_http(board):  # a bare string over HTTP is one id in the query
        refused(board, InvalidArgument, board.briefing, run.id, dependencies=tid(run, "a"))
