"""The store as a durable, shared thing: reopening it and sharing it change nothing.

Backend-specific schema checks (versions, migrations) live next to each backend's tests,
e.g. tests/test_sqlite_schema.py.
"""

from __future__ import annotations

import pytest

from baton import Board, LeaseLost, SyncBoard, TaskState
from tests.conformance._util import claim, finish, tid
from tests.helpers import ManualClock, plan, task


def _open(store_url: str, clock: ManualClock) -> SyncBoard:
    return SyncBoard(Board.open(store_url, clock=clock))


def test_reopening_the_store_keeps_everything(store_url: str, clock: ManualClock) -> None:
    with _open(store_url, clock) as first:
        run = first.create_run(plan(task("a"), task("b", deps=("a",)), task("c")))
        lease = claim(first)
        note = first.post_message(run.id, "note", {"text": "hi"}, sender="w1", idempotency_key="m1")
        before = first.snapshot()
    with _open(store_url, clock) as again:
        assert again.snapshot() == before
        assert again.get_task(lease.task_id).lease_owner == "w1"
        repeat = again.post_message(
            run.id, "note", {"text": "hi"}, sender="w1", idempotency_key="m1"
        )
        assert repeat == note, "idempotency keys survive a restart"
        assert again.snapshot() == before
        assert finish(again, lease).state is TaskState.DONE, "the lease survives a restart"
        assert again.get_task(tid(run, "b")).state is TaskState.READY
        seqs = [e.seq for e in again.events()]
        assert seqs == list(range(1, len(seqs) + 1))


def test_opening_an_existing_store_changes_nothing(
    board: SyncBoard, store_url: str, clock: ManualClock
) -> None:
    board.create_run(plan(task("a")))
    claim(board)
    before = board.snapshot()
    with _open(store_url, clock) as second:
        assert second.snapshot() == before
    assert board.snapshot() == before


def test_two_boards_on_one_store_see_each_others_writes(
    board: SyncBoard, store_url: str, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a"), task("b")))
    with _open(store_url, clock) as other:
        lease = claim(board, "w1")
        assert other.get_task(lease.task_id).state is TaskState.RUNNING
        theirs = claim(other, "w2")
        assert theirs.task_id != lease.task_id
        assert other.claim("w3", ["worker"]) is None
        other.cancel_task(lease.task_id, actor="human")
        with pytest.raises(LeaseLost):
            finish(board, lease)
        assert [e.seq for e in other.events(run.id)] == [e.seq for e in board.events(run.id)]
