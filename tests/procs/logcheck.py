"""Reading a whole event log and checking the properties every store must keep."""

from __future__ import annotations

from collections import Counter

from baton import Event, SyncBoard
from baton.replay import project, replay


def all_events(board: SyncBoard, run_id: str | None = None) -> list[Event]:
    """Every event (of the run, or of the store), paging past ``events()``'s limit."""
    out: list[Event] = []
    while True:
        batch = board.events(run_id, since=out[-1].seq if out else 0, limit=5000)
        if not batch:
            return out
        out.extend(batch)


def assert_gap_free(events: list[Event]) -> None:
    """``seq`` runs 1, 2, 3, ... with no gap and no repeat."""
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), _first_gap(seqs)


def _first_gap(seqs: list[int]) -> str:
    for want, got in enumerate(seqs, start=1):
        if want != got:
            return f"seq {want} expected, found {got}"
    return "ok"


def assert_replay_matches(board: SyncBoard, run_id: str, events: list[Event]) -> None:
    """Replaying the whole log gives exactly the stored tasks of the run."""
    view = replay(events)
    stored = project(board.tasks(run_id))
    replayed = {tid: t for tid, t in view.tasks.items() if tid.startswith(f"{run_id}/")}
    diff = sorted(t for t in stored.keys() | replayed.keys() if stored.get(t) != replayed.get(t))
    assert not diff, f"{len(diff)} task(s) differ, e.g. {diff[0]}: " + (
        f"stored {stored.get(diff[0])} vs replayed {replayed.get(diff[0])}"
    )
    assert view.runs[run_id] == board.get_run(run_id).state


def kinds_per_task(events: list[Event], kind: str) -> Counter[str]:
    return Counter(e.task_id for e in events if e.kind == kind and e.task_id)
