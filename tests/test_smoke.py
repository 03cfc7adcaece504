from __future__ import annotations

from baton import SyncBoard, TaskState
from tests.helpers import plan, task


def test_a_chain_runs_to_done(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    for _ in range(2):
        lease = board.claim("w1", ["worker"])
        assert lease is not None
        board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    assert {t.key: t.state for t in board.tasks(run.id)} == {
        "a": TaskState.DONE,
        "b": TaskState.DONE,
    }
    assert board.get_run(run.id).state == "finished"
