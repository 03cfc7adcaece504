"""Reading a whole event log and checking the properties every store must keep."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

from baton import Event, SyncBoard, Task, TaskState
from baton.views.replay import project, replay


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


def lease_expiry(e: Event) -> bool:
    """The reaper's note that a holder's lease ran out (a retry or a final failure)."""
    return (
        e.kind in ("task.retry", "task.fail")
        and e.payload.get("error", {}).get("kind") == "lease_expired"
    )


def assert_done_exactly_once(
    tasks: Mapping[str, Task], events: list[Event], *, reaper_prefix: str = ""
) -> dict[tuple[str, int], str]:
    """The fencing story of a run that workers worked while being killed: one claim per
    token; every write bearing a token by the holder of that token, except the reaper's
    note that the lease ran out (written by an actor named ``reaper_prefix…``); every
    task done exactly once, by the holder of its last lease, with that token and that
    holder's output. Returns who held each ``(task, token)``, for the caller's own
    checks of what its workers reported."""
    assert Counter(t.state for t in tasks.values()) == {TaskState.DONE: len(tasks)}
    owner: dict[tuple[str, int], str] = {}
    completes: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.task_id is None or not e.kind.startswith("task."):
            continue
        token = e.payload.get("token", 0)
        key = (e.task_id, token)
        if e.kind == "task.claim":
            assert key not in owner, f"token {token} of {e.task_id} was handed out twice"
            owner[key] = e.actor
        elif e.kind == "task.complete":
            completes[e.task_id].append(e)
        if token == 0:
            continue
        if lease_expiry(e):
            assert e.payload["error"]["owner"] == owner[key], e
            assert e.actor.startswith(reaper_prefix), e
        else:
            assert e.actor == owner[key], f"{e.actor} wrote {e.kind} with {owner[key]}'s lease"

    assert {tid: len(cs) for tid, cs in completes.items()} == dict.fromkeys(tasks, 1)
    for tid, t in tasks.items():
        (done,) = completes[tid]
        token = done.payload["token"]
        assert t.token == token, f"{tid}: completed with token {token}, last claim {t.token}"
        assert done.actor == owner[(tid, token)]
        assert t.output == {"by": done.actor, "token": token}
        assert done.payload["output"] == t.output
        assert t.lease_owner is None
    return owner
