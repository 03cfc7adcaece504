"""Reservations: a task's holder says "I am editing src/api/, keep off", and the Board
holds everyone to it — on both stores, through both doors."""

from __future__ import annotations

import pytest

from baton import (
    InvalidArgument,
    LeaseLost,
    ReservationConflict,
    Run,
    SyncBoard,
)
from baton.model.reservations import covers, overlaps
from tests.conformance._util import claim, finish, refused
from tests.helpers import ManualClock, plan, task


@pytest.fixture
def run(board: SyncBoard) -> Run:
    return board.create_run(plan(task("a"), task("b"), task("c")))


def test_overlapping_exclusive_reservations_one_wins_the_other_is_told_who(
    board: SyncBoard, run: Run
) -> None:
    a = claim(board, "w1", run_id=run.id)
    b = claim(board, "w2", run_id=run.id)
    [held] = board.reserve(a.task.id, a.token, ["src/api/**"], participant="w1")
    assert (held.holder, held.task_id, held.mode.value) == ("w1", a.task.id, "exclusive")
    assert held.expires_at == a.expires_at
    error = refused(
        board, ReservationConflict, board.reserve, b.task.id, b.token, ["src/api/routes.py"],
        participant="w2",
    )  # fmt: skip
    assert (error.holder, error.task_id, error.held) == ("w1", a.task.id, "src/api/**")
    assert error.expires_at == pytest.approx(a.expires_at)
    assert "w1" in str(error) and a.task.id in str(error)
    # all or nothing: one free and one held resource reserves neither
    refused(
        board, ReservationConflict, board.reserve, b.task.id, b.token, ["docs/**", "src/**"],
        participant="w2",
    )  # fmt: skip
    assert [r.resource for r in board.reservations(run.id)] == ["src/api/**"]
    taken = board.reserve(b.task.id, b.token, ["src/web/"], participant="w2")
    assert taken[0].id > held.id  # a fencing token: later is larger
    # asking again for what one holds is idempotent
    assert board.reserve(a.task.id, a.token, ["src/api/**"], participant="w1") == [held]


def test_shared_reservations_share_and_keep_exclusive_ones_out(board: SyncBoard, run: Run) -> None:
    a, b, c = (claim(board, f"w{i}", run_id=run.id) for i in (1, 2, 3))
    board.reserve(a.task.id, a.token, ["db:schema"], participant="w1", mode="shared")
    board.reserve(b.task.id, b.token, ["db:schema"], participant="w2", mode="shared")
    refused(board, ReservationConflict, board.reserve, c.task.id, c.token, ["db:schema"],
            participant="w3")  # fmt: skip
    assert len(board.reservations(run.id)) == 2


def test_reservations_end_with_the_task_and_on_release(board: SyncBoard, run: Run) -> None:
    a = claim(board, "w1", run_id=run.id)
    b = claim(board, "w2", run_id=run.id)
    board.reserve(a.task.id, a.token, ["src/**"], participant="w1")
    board.reserve(b.task.id, b.token, ["docs/**"], participant="w2")
    gone = board.release_reservations(b.task.id, b.token, participant="w2")
    assert [r.resource for r in gone] == ["docs/**"]
    assert [e.kind for e in board.events(run.id)][-1] == "reservation.released"
    finish(board, a)  # handed in: its reservations end with its lease
    assert board.reservations(run.id) == []
    board.reserve(b.task.id, b.token, ["src/main.py"], participant="w2")


def test_reservations_expire_with_the_lease(board: SyncBoard, run: Run, clock: ManualClock) -> None:
    a = claim(board, "w1", run_id=run.id)
    board.reserve(a.task.id, a.token, ["src/api/**"], participant="w1")
    board.heartbeat(a.task.id, a.token, "w1")  # a heartbeat keeps it
    clock.advance(a.task.lease_s - 1)
    assert len(board.reservations(run.id)) == 1
    clock.advance(a.task.lease_s + 2)  # the holder went silent: its lease expired
    assert board.reservations(run.id) == []
    b = claim(board, "w2", run_id=run.id)
    board.reserve(b.task.id, b.token, ["src/api/x.py"], participant="w2")
    refused(board, LeaseLost, board.reserve, a.task.id, a.token, ["x"], participant="w1")


def test_a_write_under_anothers_exclusive_reservation_is_refused(
    board: SyncBoard, run: Run
) -> None:
    a = claim(board, "w1", run_id=run.id)
    b = claim(board, "w2", run_id=run.id)
    board.reserve(a.task.id, a.token, ["src/api/**"], participant="w1")
    error = refused(
        board, ReservationConflict, board.write_artifact, run.id, "src/api/routes.py", "x",
        task_id=b.task.id, token=b.token,
    )  # fmt: skip
    assert (error.holder, error.task_id) == ("w1", a.task.id)
    board.write_artifact(run.id, "src/api/routes.py", "x", task_id=a.task.id, token=a.token)
    board.write_artifact(run.id, "src/web/page.py", "y", task_id=b.task.id, token=b.token)


def test_bad_reservations_change_nothing(board: SyncBoard, run: Run) -> None:
    a = claim(board, "w1", run_id=run.id)
    for bad in (["/abs"], ["a//b"], [""], [" x"], [], ["bad\x00"], ["src/../etc/**"], ["./x"]):
        refused(board, InvalidArgument, board.reserve, a.task.id, a.token, bad, participant="w1")
    refused(board, InvalidArgument, board.reserve, a.task.id, a.token, ["x"], participant="w1",
            mode="forever")  # fmt: skip
    refused(board, LeaseLost, board.reserve, a.task.id, a.token + 1, ["x"], participant="w1")


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("src/api/**", "src/api/routes.py", True),
        ("src/api/**", "src/api", True),
        ("src/api/", "src/api/v1/x.py", True),
        ("src/api/**", "src/web/**", False),
        ("src/*.py", "src/main.py", True),
        ("src/*.py", "src/main.rs", False),
        ("src/*.py", "src/sub/main.py", False),
        ("**/*.md", "docs/guide/intro.md", True),
        ("docs/*.md", "docs/*.rst", False),
        ("docs/a*", "docs/*b", True),  # both wild: "docs/ab" matches both
        ("db:schema", "db:schema", True),
        ("db:schema", "db:data", False),
        ("*a", "[a]", True),  # character classes: assumed to overlap, never missed
        ("file[12]", "*2", True),
        ("x/[ab]", "x/*b", True),
    ],
)
def test_pattern_overlap(a: str, b: str, overlap: bool) -> None:
    assert overlaps(a, b) is overlap
    assert overlaps(b, a) is overlap


def test_covers_is_pattern_against_path() -> None:
    assert covers("src/api/**", "src/api/v1/routes.py")
    assert not covers("src/api/**", "src/apis/x.py")
    assert covers("*.md", "README.md") and not covers("*.md", "docs/README.md")
