"""Artifacts: versioned shared context, on both stores and through both doors. Every
version is kept; a write names the version it read; a stale write is merged (text
lines, JSON fields), wins (last_writer_wins, only where chosen), goes to a human
(escalate) or is refused with ArtifactConflict — never a silent overwrite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import (
    ArtifactConflict,
    Board,
    InvalidArgument,
    LeaseLost,
    Limits,
    NotFound,
    ReservationConflict,
    Run,
    SyncBoard,
)
from tests.conformance._util import claim, finish, over_http, refused, tid
from tests.conformance.authz import denied, hidden
from tests.helpers import EVENT_TABLES, ManualClock, plan, task

BASE = "title\n\nintro line\n\nmiddle line\n\nclosing line\n"


@pytest.fixture
def run(board: SyncBoard) -> Run:
    return board.create_run(plan(task("a"), task("b"), task("c", deps=("a",))))


def conflict(board: SyncBoard, call: Callable[..., Any], *args: Any, **kw: Any) -> ArtifactConflict:
    """Expect ArtifactConflict, nothing written but the ``artifact.conflict`` event."""
    before = {k: v for k, v in board.snapshot().items() if k not in EVENT_TABLES}
    seq = board.last_seq()
    with pytest.raises(ArtifactConflict) as info:
        call(*args, **kw)
    after = {k: v for k, v in board.snapshot().items() if k not in EVENT_TABLES}
    assert after == before, "a refused write changed the board"
    kinds = [e.kind for e in board.events(since=seq)]
    assert kinds[0] == "artifact.conflict", kinds
    return info.value


def test_versions_are_kept_with_author_size_and_base(board: SyncBoard, run: Run) -> None:
    first = board.write_artifact(run.id, "design.md", "v1\n", author="ann")
    assert (first.version.version, first.version.base, first.merged) == (1, None, False)
    second = board.write_artifact(run.id, "design.md", "v2\n", base=1, author="bob")
    assert second.artifact.head == 2
    history = board.artifact_history(run.id, "design.md")
    assert [(v.version, v.base, v.author, v.size) for v in history] == [
        (1, None, "ann", 3),
        (2, 1, "bob", 3),
    ]
    assert board.read_artifact(run.id, "design.md").content == "v2\n"
    old = board.read_artifact(run.id, "design.md", version=1)
    assert (old.content, old.version.version, old.artifact.head) == ("v1\n", 1, 2)
    diff = board.diff_artifact(run.id, "design.md", 1)
    assert "-v1" in diff and "+v2" in diff
    written = [e for e in board.events(run.id) if e.kind == "artifact.written"]
    assert [e.payload["version"] for e in written] == [1, 2]


def test_identical_content_is_stored_once(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "a.txt", "same\n")
    board.write_artifact(run.id, "a.txt", "other\n", base=1)
    board.write_artifact(run.id, "a.txt", "same\n", base=2)  # back to v1's content
    board.write_artifact(run.id, "b.txt", "same\n")  # another artifact, same content
    history = board.artifact_history(run.id, "a.txt")
    assert history[0].digest == history[2].digest
    assert len(board.snapshot()["blobs"]) == 2


def test_disjoint_text_edits_merge(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "doc.md", BASE)
    board.write_artifact(run.id, "doc.md", BASE.replace("intro", "INTRO"), base=1)
    merged = board.write_artifact(run.id, "doc.md", BASE.replace("closing", "CLOSING"), base=1)
    assert merged.merged and merged.version.merged_with == 2 and merged.version.base == 1
    assert board.read_artifact(run.id, "doc.md").content == (
        "title\n\nINTRO line\n\nmiddle line\n\nCLOSING line\n"
    )


def test_overlapping_text_edits_conflict_with_the_hunks(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "doc.md", BASE)
    board.write_artifact(run.id, "doc.md", BASE.replace("middle", "theirs"), base=1)
    error = conflict(
        board, board.write_artifact, run.id, "doc.md", BASE.replace("middle", "mine"), base=1
    )
    assert (error.base, error.head, error.escalated) == (1, 2, False)
    assert error.hunks == [
        {
            "at_line": 5,
            "base": "middle line\n",
            "head": "theirs line\n",
            "mine": "mine line\n",
        }
    ]
    event = [e for e in board.events(run.id) if e.kind == "artifact.conflict"][-1]
    assert (event.payload["base"], event.payload["head"]) == (1, 2)
    assert board.read_artifact(run.id, "doc.md").artifact.head == 2


def test_json_fields_merge_and_merge_patches_apply(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "cfg", {"db": {"host": "a", "port": 1}, "tags": ["x"]})
    board.write_artifact(run.id, "cfg", {"db": {"port": 2}}, base=1, patch=True)
    merged = board.write_artifact(
        run.id, "cfg", {"db": {"host": "b"}, "owner": "ann", "tags": None}, base=1, patch=True
    )
    assert merged.merged
    assert board.read_artifact(run.id, "cfg").content == {
        "db": {"host": "b", "port": 2},
        "owner": "ann",
    }


def test_the_same_json_field_changed_twice_conflicts(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "cfg", {"db": {"host": "a"}, "n": 1})
    board.write_artifact(run.id, "cfg", {"db": {"host": "b"}, "n": 1}, base=1)
    error = conflict(
        board, board.write_artifact, run.id, "cfg", {"db": {"host": "c"}, "n": 2}, base=1
    )
    assert error.hunks == [{"field": "/db/host", "base": "a", "head": "b", "mine": "c"}]


def test_last_writer_wins_only_where_chosen(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "status", "idle", strategy="last_writer_wins")
    board.write_artifact(run.id, "status", "busy", base=1)
    won = board.write_artifact(run.id, "status", "done", base=1)
    assert won.merged and board.read_artifact(run.id, "status").content == "done"
    board.write_artifact(run.id, "plain", "idle")
    board.write_artifact(run.id, "plain", "busy", base=1)
    conflict(board, board.write_artifact, run.id, "plain", "done", base=1)
    refused(
        board, InvalidArgument, board.write_artifact, run.id, "plain", "x", base=2,
        strategy="last_writer_wins",
    )  # fmt: skip


def test_escalate_sends_the_conflict_to_a_human(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "decision.md", "use postgres\n", strategy="escalate")
    board.write_artifact(run.id, "decision.md", "use sqlite\n", base=1, author="ann")
    error = conflict(board, board.write_artifact, run.id, "decision.md", "use mysql\n", base=1)
    assert error.escalated
    [escalation] = board.escalations(run.id)
    assert escalation.kind == "escalation.artifact_conflict"
    evidence = escalation.payload["evidence"]
    assert (evidence["base"], evidence["head"]) == (1, 2)
    assert evidence["refused_write"] == "use mysql\n"
    assert "decision.md" in escalation.payload["reason"]


def test_writing_without_naming_the_version_read_is_refused(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "doc.md", "one\n")
    error = conflict(board, board.write_artifact, run.id, "doc.md", "two\n")
    assert error.base is None and error.head == 1


def test_bad_writes_and_reads_change_nothing(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "doc.md", "one\n")
    board.write_artifact(run.id, "cfg", {"a": 1})
    for name in ("", "/abs", "a/../b", "a//b", "x" * 301, "tab\there"):
        refused(board, InvalidArgument, board.write_artifact, run.id, name, "x")
    refused(board, InvalidArgument, board.write_artifact, run.id, "doc.md", "x", base=9)
    refused(board, InvalidArgument, board.write_artifact, run.id, "doc.md", {"a": 1}, base=1)
    refused(board, InvalidArgument, board.write_artifact, run.id, "doc.md", "x", base=1, patch=True)
    refused(board, InvalidArgument, board.write_artifact, run.id, "n", "x", kind="yaml")
    refused(board, InvalidArgument, board.write_artifact, run.id, "n", "x", strategy="guess")
    refused(board, InvalidArgument, board.write_artifact, run.id, "n", "nul\x00")
    refused(board, NotFound, board.write_artifact, run.id, "new", "x", base=1)
    refused(board, NotFound, board.write_artifact, "nope", "doc.md", "x")
    refused(board, NotFound, board.write_artifact, run.id, "n", "x", scope=f"{run.id}/zz")
    with pytest.raises(NotFound):
        board.read_artifact(run.id, "missing.md")
    with pytest.raises(NotFound):
        board.read_artifact(run.id, "doc.md", version=5)
    with pytest.raises(NotFound):
        board.diff_artifact(run.id, "doc.md", 1, 7)


def test_a_stale_lease_cannot_write(board: SyncBoard, run: Run, clock: ManualClock) -> None:
    lease = claim(board, "w1")
    clock.advance(lease.task.lease_s + 1)
    refused(
        board, LeaseLost, board.write_artifact, run.id, "notes", "x",
        scope=lease.task.id, task_id=lease.task.id, token=lease.token,
    )  # fmt: skip


def test_the_size_limit_is_configurable(tmp_path: Any) -> None:
    with SyncBoard(Board.open(tmp_path / "b.db", limits=Limits(max_artifact_bytes=100))) as board:
        run = board.create_run(plan(task("a")))
        board.write_artifact(run.id, "small", "x" * 100)
        error = refused(board, InvalidArgument, board.write_artifact, run.id, "big", "x" * 101)
        assert "max_artifact_bytes" in str(error)
        error = refused(
            board, InvalidArgument, board.write_artifact, run.id, "small", "x" * 101, base=1
        )


# --- scopes ----------------------------------------------------------------------


def member(board: SyncBoard, pid: str, **kw: Any) -> SyncBoard:
    kw.setdefault("kind", "agent")
    _, token = board.add_participant(pid, **kw)
    return board.login(token)


def test_scopes_are_enforced_at_the_board(board: SyncBoard, run: Run) -> None:
    """A holder reads its own task's scope, the run's, and its dependencies'; not a
    sibling's; it writes only in its own task's scope, under its lease."""
    a, b = tid(run, "a"), tid(run, "b")
    ann = member(board, "ann", roles=["worker"], runs=[run.id])
    bob = member(board, "bob", roles=["worker"], runs=[run.id])
    lease_a = claim(ann, "ann", run_id=run.id)
    lease_b = claim(bob, "bob", run_id=run.id)
    assert (lease_a.task.id, lease_b.task.id) == (a, b)  # by creation order
    board.write_artifact(run.id, "shared.md", "for everyone\n")
    ann.write_artifact(
        run.id, "draft.md", "a's private notes\n", scope=a, task_id=a, token=lease_a.token
    )
    # the holder of b may not read a's scope (a sibling), nor write there or in the run's
    error = denied(board, bob.read_artifact, run.id, "draft.md", scope=a, task_id=b)
    assert "not task" in error.missing and error.target == a
    denied(board, bob.read_artifact, run.id, "draft.md", scope=a)
    denied(board, bob.write_artifact, run.id, "x", "y", scope=a, task_id=b, token=lease_b.token)
    denied(board, bob.write_artifact, run.id, "x", "y", task_id=b, token=lease_b.token)
    # ... nor act for a task it does not hold
    denied(board, bob.read_artifact, run.id, "draft.md", scope=a, task_id=a)
    assert bob.read_artifact(run.id, "shared.md").content == "for everyone\n"
    assert [x.name for x in bob.artifacts(run.id, task_id=b)] == ["shared.md"]
    assert ann.read_artifact(run.id, "draft.md", scope=a, task_id=a).content.startswith("a's")
    # c depends on a: once a is done, c's holder reads a's scope
    finish(ann, lease_a)
    finish(bob, lease_b)
    lease_c = claim(bob, "bob", run_id=run.id)
    assert lease_c.task.key == "c"
    assert bob.read_artifact(run.id, "draft.md", scope=a, task_id=lease_c.task.id).content


def test_the_context_grant_reads_and_writes_every_scope(board: SyncBoard, run: Run) -> None:
    a = tid(run, "a")
    board.write_artifact(run.id, "draft.md", "x\n", scope=a)
    lead = member(board, "lead", kind="human", grants=["context"], runs=[run.id])
    assert lead.read_artifact(run.id, "draft.md", scope=a).content == "x\n"
    lead.write_artifact(run.id, "draft.md", "y\n", scope=a, base=1)
    lead.write_artifact(run.id, "shared.md", "z\n")
    outsider = member(board, "eve", kind="human", grants=["context"], runs=[])
    hidden(board, run.id, outsider.read_artifact, run.id, "shared.md")


# --- found in review -----------------------------------------------------------------


def test_json_one_and_true_are_different_values(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "flags", {"enabled": 1})
    board.write_artifact(run.id, "flags", {"enabled": True}, base=1)
    merged = board.write_artifact(run.id, "flags", {"enabled": 1, "owner": "ann"}, base=1)
    assert merged.merged
    assert board.read_artifact(run.id, "flags").content == {"enabled": True, "owner": "ann"}
    error = conflict(board, board.write_artifact, run.id, "flags", {"enabled": 1.5}, base=1)
    assert error.hunks[0]["field"] == "/enabled"


def test_a_patch_where_the_last_writer_wins_keeps_unnamed_fields(
    board: SyncBoard, run: Run
) -> None:
    board.write_artifact(run.id, "cfg", {"a": 1, "b": 1}, strategy="last_writer_wins")
    board.write_artifact(run.id, "cfg", {"a": 2, "b": 1}, base=1)
    board.write_artifact(run.id, "cfg", {"b": 2}, base=1, patch=True)
    assert board.read_artifact(run.id, "cfg").content == {"a": 2, "b": 2}


def test_a_conflict_event_in_a_task_scope_carries_no_content(board: SyncBoard, run: Run) -> None:
    a = tid(run, "a")
    board.write_artifact(run.id, "n.md", "SECRET-1\n", scope=a)
    board.write_artifact(run.id, "n.md", "SECRET-2\n", scope=a, base=1)
    error = conflict(board, board.write_artifact, run.id, "n.md", "SECRET-3\n", scope=a, base=1)
    assert error.hunks[0]["mine"] == "SECRET-3\n"  # the writer sees the contents
    event = [e for e in board.events(run.id) if e.kind == "artifact.conflict"][-1]
    assert "SECRET" not in str(event.payload)
    assert event.payload["hunks"] == [
        {"at_line": 1, "base_chars": 12, "head_chars": 12, "mine_chars": 12}
    ]


def test_scopes_and_versions_that_no_store_holds_are_refused(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "doc.md", "one\n")
    refused(board, InvalidArgument, board.write_artifact, run.id, "doc.md", "x", scope="")
    refused(board, NotFound, board.write_artifact, run.id, "doc.md", "x", scope="a\x00b")
    with pytest.raises(InvalidArgument):
        board.read_artifact(run.id, "doc.md", version=2**40)
    with pytest.raises(InvalidArgument):
        board.diff_artifact(run.id, "doc.md", 2**40)
    # not Unicode at all: nothing by that id (locally); unsendable (over HTTP)
    with pytest.raises(InvalidArgument if over_http(board) else NotFound):
        board.read_artifact(run.id, "doc.md", scope="\ud800")


def test_another_runs_task_is_not_named_and_an_unseen_run_not_written(
    board: SyncBoard, run: Run
) -> None:
    other = board.create_run(plan(task("x")))
    lease = claim(board, "w1", run_id=other.id)
    error = refused(
        board, NotFound, board.write_artifact, run.id, "n", "x",
        task_id=lease.task.id, token=lease.token,
    )  # fmt: skip
    assert error.kind == "task"
    bob = member(board, "bob", roles=["worker"], runs=[run.id])
    hidden(board, other.id, bob.write_artifact, other.id, "n", "x",
           task_id=lease.task.id, token=lease.token)  # fmt: skip


def test_the_context_grant_does_not_pass_anothers_reservation(board: SyncBoard, run: Run) -> None:
    lease = claim(board, "w1", run_id=run.id)
    board.reserve(lease.task.id, lease.token, ["docs/**"], participant="w1")
    lead = member(board, "lead", kind="human", grants=["context"], runs=[run.id])
    with pytest.raises(ReservationConflict):
        lead.write_artifact(run.id, "docs/x.md", "lead\n")
    with pytest.raises(ReservationConflict):  # naming the holder's task without its lease
        lead.write_artifact(run.id, "docs/x.md", "lead\n", task_id=lease.task.id)


def test_a_diff_marks_a_last_line_without_newline(board: SyncBoard, run: Run) -> None:
    board.write_artifact(run.id, "t.txt", "one\nthree")
    board.write_artifact(run.id, "t.txt", "one\nTWO\n", base=1)
    diff = board.diff_artifact(run.id, "t.txt", 1)
    assert "-three\n\\ No newline at end of file\n+TWO\n" in diff
