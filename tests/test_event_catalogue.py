"""The event catalogue is true: every event a varied scenario writes, on both stores,
has a kind from ``EventKind`` (or an escalation / message family) and a payload that
fits that kind's model; ``docs/events.md`` documents every kind. Task changes are
typed: a misspelt field is refused by mypy and at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from baton import EventKind, PermissionDenied, SyncBoard, TaskChanges
from baton.model.events import ESCALATION_KINDS, TRANSITION_EVENT, validate_payload
from baton.model.states import Action
from tests.conformance._util import claim, finish, tid
from tests.helpers import ManualClock, plan, task

ROOT = Path(__file__).resolve().parents[1]


def _scenario(board: SyncBoard, clock: ManualClock) -> str:
    run = board.create_run(
        {
            **plan(
                task("rev", reviewer_role="reviewer", requires_approval=True),
                task("flaky", max_attempts=2, backoff_base_s=0, lease_s=5),
                task("blk"),
                task("rel"),
                task("lead", expand=True),
                task("wait", deps=("flaky",)),
                task("dropme"),
            ),
            "budget": {"tokens": 1000},
        },
        run_id="cat",
    )
    lease = claim(board)  # rev
    board.heartbeat(lease.task.id, lease.token, "w1")
    board.record_usage(lease.task.id, model="m", input_tokens=1, output_tokens=2, actor="w1")
    finish(board, lease)
    review = claim(board, "r1", ("reviewer",))
    board.release(review.task.id, review.token, participant="r1")
    board.reject(tid(run, "rev"), "again", actor="r1")
    finish(board, claim(board))
    review = claim(board, "r1", ("reviewer",))
    board.abandon_review(review.task.id, review.token, {"kind": "oops"}, participant="r1")
    review = claim(board, "r1", ("reviewer",))
    clock.advance(120)
    board.reap_expired()  # the review lease expired
    board.approve(tid(run, "rev"), actor="r2")  # to the gate
    board.approve(tid(run, "rev"), actor="human")  # done
    lease = claim(board)  # flaky
    board.fail(lease.task.id, lease.token, "once", participant="w1")
    claim(board)
    clock.advance(6)
    board.reap_expired()  # flaky fails for good; wait fails by cascade
    lease = claim(board)  # blk
    board.block(lease.task.id, lease.token, "needs a key", participant="w1")
    board.unblock(tid(run, "blk"), actor="human")
    finish(board, claim(board))
    lease = claim(board)  # rel
    board.release(lease.task.id, lease.token, participant="w1")
    finish(board, claim(board))
    lease = claim(board)  # lead
    board.submit(
        lease.task.id, lease.token, {"tasks": [{"id": "kid", "role": "worker"}]}, participant="w1"
    )
    board.post_message(run.id, "note", {"text": "hi"}, sender="w1")
    board.escalate(run.id, "agent", "help", actor="w1")
    board.pause_run(run.id, actor="human", reason="lunch")
    board.resume_run(run.id, actor="human")
    board.cancel_task(tid(run, "dropme"), actor="human")
    finish(board, claim(board))  # kid: the lead's children are done, then the run ends
    return run.id


def test_every_event_fits_the_catalogue(board: SyncBoard, clock: ManualClock) -> None:
    run_id = _scenario(board, clock)
    _, token = board.add_participant("p1", kind="agent", roles=["worker"], runs=[run_id])
    with pytest.raises(PermissionDenied):
        board.login(token).claim("p1", ["reviewer"], run_id=run_id)
    board.rotate_token("p1")
    board.revoke_participant("p1")
    events = board.events()
    seen = set()
    for e in events:
        validate_payload(e.kind, e.payload)  # raises on a payload the model does not allow
        seen.add(e.kind)
    fixed = {k for k in seen if not k.startswith(("escalation.", "message."))}
    assert fixed <= {k.value for k in EventKind}
    assert board.get_run(run_id).state.value == "failed"  # flaky and its cascade
    # the scenario is varied enough to mean something
    assert len(fixed) >= 25, sorted({k.value for k in EventKind} - fixed)


def test_every_transition_has_an_event_kind() -> None:
    assert set(TRANSITION_EVENT) == set(Action)
    assert {k.value for k in TRANSITION_EVENT.values()} == {f"task.{a.value}" for a in Action}


def test_docs_events_md_documents_every_kind() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    missing = [k.value for k in EventKind if f"`{k.value}`" not in text]
    missing += [f"escalation.{k}" for k in ESCALATION_KINDS if f"`escalation.{k}`" not in text]
    assert missing == []


def test_a_misspelt_change_field_is_a_runtime_error() -> None:
    with pytest.raises(TypeError, match="lease_ownr"):
        TaskChanges(lease_ownr="w1")  # type: ignore[call-arg]


def test_a_misspelt_change_field_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "misspelt.py"
    snippet.write_text(
        "from baton import TaskChanges\n\nTaskChanges(lease_ownr='w1')\nTaskChanges(attempts='2')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 1, result.stdout
    assert 'Unexpected keyword argument "lease_ownr"' in result.stdout
    assert 'Argument "attempts" to "TaskChanges" has incompatible type "str"' in result.stdout
