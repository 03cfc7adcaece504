"""The event log: gap-free ordered history, reads from a seq, and live subscriptions."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator
from contextlib import closing
from typing import Any

import pytest

from baton import (
    ContractViolation,
    Event,
    InvalidPlan,
    InvalidTransition,
    Lease,
    LeaseLost,
    SyncBoard,
)
from tests.conformance._util import claim, finish, last_seq, tid
from tests.helpers import ManualClock, plan, task


def _busy_history(board: SyncBoard, clock: ManualClock) -> tuple[str, str]:
    """Two runs, successes and refusals of every kind mixed together."""
    one = board.create_run(
        plan(task("a"), task("b", deps=("a",), output_contract={"type": "object"}))
    )
    two = board.create_run(plan(task("x", reviewer_role="reviewer")))
    finish(board, claim(board))
    clock.advance(1)
    with pytest.raises(InvalidPlan):
        board.create_run(plan(task("c", deps=("c",))))
    lease = claim(board)
    with pytest.raises(ContractViolation):
        finish(board, lease, "not an object")
    with pytest.raises(LeaseLost):
        finish(board, lease)
    with pytest.raises(InvalidTransition):
        board.approve(tid(one, "a"), actor="human")
    clock.advance(3600)
    finish(board, claim(board))
    board.post_message(two.id, "note", {"text": "hi"}, sender="w1")
    return one.id, two.id


def test_seq_is_gap_free_and_strictly_increasing(board: SyncBoard, clock: ManualClock) -> None:
    one, two = _busy_history(board, clock)
    events = board.events()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    per_run = board.events(one) + board.events(two)
    assert sorted(per_run, key=lambda e: e.seq) == events
    for run_id in (one, two):
        seqs = [e.seq for e in board.events(run_id)]
        assert seqs == sorted(set(seqs))
        assert all(e.run_id == run_id for e in board.events(run_id))


def test_events_record_kind_actor_task_and_time(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a")), actor="planner")
    clock.advance(5)
    lease = claim(board, "w7")
    clock.advance(5)
    finish(board, lease)
    events = board.events(run.id)
    assert [(e.kind, e.actor, e.task_id) for e in events] == [
        ("run.created", "planner", None),
        ("task.created", "planner", tid(run, "a")),
        ("task.claim", "w7", tid(run, "a")),
        ("task.complete", "w7", tid(run, "a")),
        ("run.finished", "w7", None),
    ]
    start = clock.now - 10
    assert [e.at for e in events] == [start, start, start + 5, start + 10, start + 10]
    assert events[3].payload["output"] == {"ok": True}


def test_reading_from_a_seq(board: SyncBoard, clock: ManualClock) -> None:
    one, _ = _busy_history(board, clock)
    everything = board.events()
    middle = everything[len(everything) // 2].seq
    assert board.events(since=middle) == [e for e in everything if e.seq > middle]
    assert board.events(one, since=middle) == [
        e for e in everything if e.seq > middle and e.run_id == one
    ]
    assert board.events(since=everything[-1].seq) == []
    assert board.events(limit=3) == everything[:3]


def _subscribe(board: SyncBoard, **kw: Any) -> Generator[Event, None, None]:
    """``board.subscribe(**kw)``, which is a generator (typed as an Iterator): closing it
    ends the subscription at once, as a client that stops reading does."""
    stream = board.subscribe(**kw)
    assert isinstance(stream, Generator), type(stream)
    return stream


def _drain(board: SyncBoard, **kw: Any) -> list[Event]:
    with closing(_subscribe(board, idle_timeout=0.2, **kw)) as stream:
        return list(stream)


def test_a_subscription_replays_history_then_ends_when_idle(
    board: SyncBoard, clock: ManualClock
) -> None:
    _busy_history(board, clock)
    assert _drain(board) == board.events()
    since = board.events()[4].seq
    assert _drain(board, since=since) == board.events(since=since)


def test_idle_timeout_ends_an_empty_subscription(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    started = time.monotonic()
    assert _drain(board, since=last_seq(board)) == []
    assert 0.15 <= time.monotonic() - started < 5


def test_resuming_from_the_last_seq_seen_delivers_everything_exactly_once(
    board: SyncBoard, clock: ManualClock
) -> None:
    start = last_seq(board)
    board.create_run(plan(task("a"), task("b"), task("c")))
    seen: list[Event] = []
    with closing(_subscribe(board, since=start)) as stream:
        for event in stream:
            seen.append(event)
            if len(seen) == 3:
                break  # the connection drops
    finish(board, claim(board))  # the world moves on meanwhile
    with closing(_subscribe(board, since=seen[-1].seq)) as stream:
        for event in stream:
            seen.append(event)
            if event.kind == "task.complete":
                break
    finish(board, claim(board))
    seen += _drain(board, since=seen[-1].seq)
    assert seen == board.events(since=start)
    assert len({e.seq for e in seen}) == len(seen)


def test_kinds_filters_by_prefix(board: SyncBoard, clock: ManualClock) -> None:
    _busy_history(board, clock)
    picked = _drain(board, kinds=("task.claim", "run."))
    expected = [e for e in board.events() if e.kind == "task.claim" or e.kind.startswith("run.")]
    assert picked == expected
    assert {e.kind for e in picked} == {"task.claim", "run.created", "run.finished"}


def test_a_subscription_can_follow_one_run(board: SyncBoard, clock: ManualClock) -> None:
    one, _ = _busy_history(board, clock)
    assert _drain(board, run_id=one) == board.events(one)


# --- a subscriber in another thread -------------------------------------------------------


class _Subscriber(threading.Thread):
    """Follows the board from its own SyncBoard on the same store, until a note says stop."""

    def __init__(self, store_url: str, since: int, **kw: Any) -> None:
        super().__init__(daemon=True)
        self.store_url, self.since, self.kw = store_url, since, kw
        self.events: queue.Queue[Event] = queue.Queue()
        self.subscribed = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                SyncBoard.open(self.store_url) as board,
                closing(_subscribe(board, since=self.since, idle_timeout=20, **self.kw)) as stream,
            ):
                self.subscribed.set()
                for event in stream:
                    self.events.put(event)
                    if event.kind == "message.note" and event.payload["body"]["text"] == "stop":
                        return
        except BaseException as exc:  # pragma: no cover - reported by the test
            self.error = exc

    def next(self, timeout: float = 10) -> Event:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event delivered within {timeout}s") from None

    def stop(self, board: SyncBoard, run_id: str) -> None:
        board.post_message(run_id, "note", {"text": "stop"}, sender="test")
        self.join(timeout=10)
        assert not self.is_alive(), "the subscriber did not stop"
        assert self.error is None, self.error


@pytest.mark.timeout(60)
def test_a_subscriber_in_another_thread_wakes_on_each_commit(
    board: SyncBoard, store_url: str
) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    start = last_seq(board)
    sub = _Subscriber(store_url, start)
    sub.start()
    assert sub.subscribed.wait(10)
    leases: list[Lease] = []
    writes: list[Callable[[], object]] = [
        lambda: board.post_message(run.id, "note", {"text": "one"}, sender="w1"),
        lambda: leases.append(claim(board)),
        lambda: finish(board, leases[0]),
        lambda: board.post_message(run.id, "question", {"question": "why?"}, sender="w1"),
    ]
    delivered: list[Event] = []
    for write in writes:
        head = last_seq(board)
        write()
        for expected in board.events(since=head):
            got = sub.next()  # woken by the commit, or fails after a timeout
            assert got == expected
            delivered.append(got)
    sub.stop(board, run.id)
    while not sub.events.empty():
        delivered.append(sub.events.get_nowait())
    assert delivered == board.events(since=start)


@pytest.mark.timeout(60)
def test_a_subscriber_in_another_thread_resumes_without_loss_or_duplicates(
    board: SyncBoard, store_url: str
) -> None:
    run = board.create_run(plan(task("a"), task("b")))
    start = last_seq(board)
    first = _Subscriber(store_url, start, kinds=("message.", "task."))
    first.start()
    assert first.subscribed.wait(10)
    finish(board, claim(board))
    first.stop(board, run.id)
    seen = list(first.events.queue)
    assert seen[-1].kind == "message.note"

    finish(board, claim(board))  # while nobody listens
    board.post_message(run.id, "note", {"text": "later"}, sender="w1")
    second = _Subscriber(store_url, seen[-1].seq, kinds=("message.", "task."))
    second.start()
    assert second.subscribed.wait(10)
    second.stop(board, run.id)
    seen += list(second.events.queue)
    expected = [e for e in board.events(since=start) if e.kind.startswith(("message.", "task."))]
    assert seen == expected
