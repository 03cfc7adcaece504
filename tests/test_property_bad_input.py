"""Property: throw arbitrary JSON values (NaN, infinities, huge integers, deep nesting,
sets, odd Unicode, rich markup, terminal escapes, HTML) and arbitrary ids and names at
every public Board call. The only exceptions that escape are ``BatonError``s, and a
refused call leaves the store's snapshot unchanged. On SQLite with many examples, and on
PostgreSQL with fewer (each example is a round of real transactions)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from baton import BatonError, Board, Lease, SyncBoard
from tests.helpers import ManualClock, plan, task

NASTY_TEXT = st.sampled_from(
    ["", " ", "a/b", "[/api/users] [bold]x[/]", "\x1b[31mred\x1b[0m", "<script>x</script>",
     "\x00", "\ud800", "é" * 300, "line\nbreak", "r1", "r1/a", "x" * 25_000, "%s%n", "'; DROP--"]
) | st.text(max_size=40)  # fmt: skip

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | NASTY_TEXT
)


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


JSONISH = st.recursive(
    LEAVES,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(NASTY_TEXT, kids, max_size=4)
        | st.frozensets(st.integers(), max_size=3).map(set)
        | st.tuples(kids)
    ),
    max_leaves=12,
) | st.sampled_from([_deep(70), _deep(3000), {"x": math.nan}, {1: 2}, {"k": b"bytes"}])

IDS = NASTY_TEXT | st.sampled_from(["r1/a", "r1/nope", "r1", "nope"])
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70), st.none()
)


@contextmanager
def _stage(url: str) -> Iterator[tuple[SyncBoard, Lease]]:
    """A board with one run and one claimed task, the calls' target."""
    with SyncBoard(Board.open(url, clock=ManualClock())) as board:
        run_id = f"r{uuid.uuid4().hex[:8]}"
        board.create_run(
            plan(task("a"), task("b", reviewer_role="reviewer"), task("c", deps=("a",))),
            run_id=run_id,
        )
        lease = board.claim("w1", ["worker"], run_id=run_id)
        assert lease is not None
        yield board, lease


def _calls(
    board: SyncBoard, lease: Lease, v: Any, i: Any, n: Any, x: Any
) -> list[Callable[[], Any]]:
    """Every public call, each given the arbitrary value where a caller could put one."""
    t, k, r = lease.task.id, lease.token, lease.task.run_id
    return [
        lambda: board.create_run(plan(task("z", input={"v": v}, title=n)), run_id=i),
        lambda: board.create_run(v),
        lambda: board.create_goal_run(n, roles=[n]),
        lambda: board.add_tasks(i, [v], actor=n),
        lambda: board.add_tasks(r, [task("new", input={"v": v}, depends_on=[i])], actor="w1"),
        lambda: board.claim(n, [n], run_id=i, lease_s=x),
        lambda: board.heartbeat(i, k, n, lease_s=x),
        lambda: board.submit(t, k, v, participant="w1"),
        lambda: board.submit(i, x if isinstance(x, int) else k, {}, participant=n),
        lambda: board.fail(t, k, v if isinstance(v, dict) else "err", participant="w1"),
        lambda: board.fail(t, k, n, participant="w1", retryable=bool(v)),
        lambda: board.block(t, k, n, participant="w1"),
        lambda: board.release(i, k, participant=n),
        lambda: board.unblock(i, actor=n),
        lambda: board.approve(i, actor=n, comment=n),
        lambda: board.reject(i, n, actor="human"),
        lambda: board.reject(i, v, actor="human"),
        lambda: board.abandon_review(i, k, v, participant=n),
        lambda: board.cancel_task(i, actor=n, reason=n),
        lambda: board.cancel_run(i, actor=n, reason=n),
        lambda: board.pause_run(i, actor=n, reason=n),
        lambda: board.resume_run(r, actor="h", budget=v),
        lambda: board.record_usage(
            t, model=n, input_tokens=x, output_tokens=1, cost_usd=x, actor="w1"
        ),
        lambda: board.record_usage(
            i, model="m", input_tokens=1, output_tokens=1, cost_usd=0, actor=n
        ),
        lambda: board.post_message(i, n, v, sender="w1"),
        lambda: board.post_message(r, "note", {"text": n, "data": v}, sender=n, to=n),
        lambda: board.escalate(i, n, n, evidence=v, actor="w1"),
        lambda: board.get_run(i),
        lambda: board.get_task(i),
        lambda: board.tasks(i),
        lambda: board.events(i, since=x if isinstance(x, int) else 0),
        lambda: board.messages(i),
        lambda: board.escalations(i),
        lambda: board.recent_events(i, kind_prefix=n),
        lambda: board.claim_duty(n, n, lease_s=x),
    ]


def _throw_everything(board: SyncBoard, lease: Lease, v: Any, i: Any, n: Any, x: Any) -> None:
    for call in _calls(board, lease, v, i, n, x):
        before = board.snapshot()
        try:
            call()
        except BatonError:
            assert board.snapshot() == before, "a refused call changed the store"
        except TypeError as exc:  # a caller passing the wrong Python type: a programming
            # error mypy reports, allowed to be a TypeError only when nothing changed
            assert board.snapshot() == before, f"a TypeError left changes: {exc}"


EXAMPLES = {"sqlite": 400, "postgres": 40}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_only_baton_errors_escape_and_refusals_change_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(tmp_path / "b.db") if backend == "sqlite" else request.getfixturevalue("pg_url")

    @settings(max_examples=EXAMPLES[backend], deadline=None, database=None)
    @given(v=JSONISH, i=IDS, n=NASTY_TEXT, x=NUMBERS)
    def check(v: Any, i: Any, n: Any, x: Any) -> None:
        here = url if backend == "postgres" else str(tmp_path / f"{uuid.uuid4().hex}.db")
        with _stage(here) as (board, lease):
            _throw_everything(board, lease, v, i, n, x)

    check()
