"""A worker process reserves ``src/api/**`` and is killed with SIGKILL: its reservation
lives on until its lease expires (the Board cannot tell a dead holder from a slow one),
then goes with the lease — a waiting reservation gets it at once, with no sleep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from baton import Board, ReservationConflict, SyncBoard
from tests.helpers import plan, task

pytestmark = pytest.mark.slow

HOLDER = """
import sys, time
from baton import Board, SyncBoard
with SyncBoard(Board.open(sys.argv[1], create=False)) as board:
    lease = board.claim("doomed", ["worker"], run_id=sys.argv[2])
    board.reserve(lease.task.id, lease.token, ["src/api/**"], participant="doomed")
    print("reserved", flush=True)
    time.sleep(3600)
"""


def test_a_killed_workers_reservation_expires_with_its_lease(store_url: str) -> None:
    with SyncBoard(Board.open(store_url)) as board:
        run = board.create_run(plan(task("a", lease_s=1.5), task("b", lease_s=30)))
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, store_url, run.id], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "reserved"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            assert proc.stdout is not None
            proc.stdout.close()
        lease = board.claim("w2", ["worker"], run_id=run.id)
        assert lease is not None and lease.task.key == "b"
        with pytest.raises(ReservationConflict) as info:
            board.reserve(lease.task.id, lease.token, ["src/api/x.py"], participant="w2")
        assert (info.value.holder, info.value.task_id) == ("doomed", f"{run.id}/a")
        expires = info.value.expires_at
        assert expires is not None
        started = time.time()
        [taken] = board.reserve(
            lease.task.id, lease.token, ["src/api/x.py"], participant="w2", wait_s=10
        )
        waited = time.time() - started
        assert taken.holder == "w2"
        assert time.time() >= expires  # not before the dead holder's lease ran out
        assert waited < 5
