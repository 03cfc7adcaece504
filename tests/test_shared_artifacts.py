"""Ten processes updating one shared text artifact and one JSON artifact at once, 100
updates each: every update is merged into the head or refused with ArtifactConflict
and retried by its writer; none is lost, and the version history is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from baton import Board, SyncBoard
from tests.helpers import plan, task

pytestmark = pytest.mark.slow

WRITERS = 10
UPDATES = 10  # per writer: 100 in all, per artifact


def test_ten_processes_lose_no_update(store_url: str) -> None:
    with SyncBoard(Board.open(store_url)) as board:
        run = board.create_run(plan(task("a")))
        sections = "".join(f"## w{i}\n" for i in range(WRITERS)) + "## end\n"
        board.write_artifact(run.id, "notes.md", sections)
        board.write_artifact(run.id, "state.json", {"updates": {}, "log": []})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.procs.artifact_writer", store_url, run.id, f"w{i}",
             str(UPDATES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]  # fmt: skip
    for proc in procs:  # all open and warm (a slow start must not keep them apart)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:  # then all at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()  # communicate() below closes it
    reports = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        reports.append(json.loads(out.strip().splitlines()[-1]))
    marks = {f"w{w}-{i}" for w in range(WRITERS) for i in range(UPDATES)}
    with SyncBoard(Board.open(store_url)) as board:
        text = board.read_artifact(run.id, "notes.md")
        lines = text.content.splitlines()
        for w in range(WRITERS):  # every writer's lines, in its section, in its order
            start = lines.index(f"## w{w}")
            end = lines.index(f"## w{w + 1}" if w + 1 < WRITERS else "## end")
            assert lines[start + 1 : end] == [f"w{w}-{i}" for i in range(UPDATES)]
        state = board.read_artifact(run.id, "state.json").content
        assert set(state["updates"]) == marks
        assert sorted(state["log"]) == sorted(marks) and len(state["log"]) == len(marks)
        for name in ("notes.md", "state.json"):
            history = board.artifact_history(run.id, name)
            assert [v.version for v in history] == list(range(1, 2 + WRITERS * UPDATES))
            assert all(v.base is not None and v.base < v.version for v in history[1:])
            merged = [v for v in history if v.merged_with is not None]
            assert all(v.merged_with == v.version - 1 for v in merged)
        events = board.events(run.id)
        written = [e for e in events if e.kind == "artifact.written"]
        conflicts = [e for e in events if e.kind == "artifact.conflict"]
    assert len(written) == 2 + 2 * WRITERS * UPDATES
    assert len(conflicts) == sum(r["conflicts"] for r in reports)
    # The JSON log is one list all writers append to: concurrent appends cannot merge
    # field-wise, so some writes were refused and retried — the path under test ran.
    assert conflicts, "no write was ever refused: the writers did not overlap"
    assert all(e.payload["name"] == "state.json" for e in conflicts)


WRITER = """
import sys
from baton import Board, ReservationConflict, SyncBoard
refused = 0
with SyncBoard(Board.open(sys.argv[1], create=False)) as board:
    print("ready", flush=True)
    for i in range(int(sys.argv[3])):
        head = board.read_artifact(sys.argv[2], "docs/a.md").version.version
        try:
            board.write_artifact(sys.argv[2], "docs/a.md", f"edit {i}\\n", base=head)
        except ReservationConflict:
            refused += 1
print(refused, flush=True)
"""


def test_no_write_lands_under_a_reservation_taken_meanwhile(store_url: str) -> None:
    """A process writes docs/a.md in a loop while this one reserves docs/** and then
    hands its task in: in the event log no write of docs/a.md falls between the
    reservation and the hand-in (the write's reservation check and its commit cannot
    straddle a reservation's grant)."""
    with SyncBoard(Board.open(store_url)) as board:
        run = board.create_run(plan(task("a")))
        board.write_artifact(run.id, "docs/a.md", "start\n", strategy="last_writer_wins")
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, run.id, "400"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        lease = board.claim("w1", ["worker"], run_id=run.id)
        assert lease is not None
        board.wait_for_change(board.last_seq(), 10)  # the writer is writing
        board.reserve(lease.task.id, lease.token, ["docs/**"], participant="w1")
        for _ in range(20):  # hold it while the writer keeps trying
            board.wait_for_change(board.last_seq(), 0.05)
        board.submit(lease.task.id, lease.token, {}, participant="w1")
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        kinds = [(e.seq, e.kind) for e in board.events(run.id)]
    taken = next(s for s, k in kinds if k == "reservation.taken")
    ended = next(s for s, k in kinds if k == "task.complete")
    under = [s for s, k in kinds if k == "artifact.written" and taken < s < ended]
    assert under == [], f"writes landed under the reservation: {under}"
    assert int(out.strip().splitlines()[-1]) > 0  # the writer was refused meanwhile
