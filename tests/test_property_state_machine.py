"""Property tests: a hypothesis state machine drives one board through random calls and
checks the invariants after every step; and the plan graph's validation against a
brute-force oracle.

The machine cannot take pytest fixtures, so every example opens its own SQLite file in a
temporary directory, with a manual clock and a seeded retry-jitter generator.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from baton import (
    TERMINAL,
    Board,
    ContractViolation,
    Event,
    FailurePolicy,
    IdempotencyConflict,
    InvalidArgument,
    InvalidPlan,
    InvalidTransition,
    Lease,
    LeaseKind,
    LeaseLost,
    RunState,
    SyncBoard,
    Task,
    TaskState,
    UsageError,
)
from baton.model.contracts import violations
from baton.planning.graph import check_plan, find_cycles, parse_plan, topological_order
from baton.views.replay import project, replay
from tests.helpers import ManualClock, plan, task

S = TaskState
CONTRACT = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
PARTICIPANTS = {  # hypothesis tries the first first
    "w1": ["worker"],
    "wr": ["worker", "reviewer"],
    "r1": ["reviewer"],
    "w2": ["worker"],
}
LEASE_S = 10.0


def _lets_through(dep: Task) -> bool:
    """Whether ``dep`` no longer holds its dependents back: done, or failed by itself
    with a policy that lets them go on (continue: at once; wait: once a human unblocks
    them). A task failed by a cascade passes the cascade on, whatever its own policy."""
    if dep.state is S.DONE:
        return True
    return (
        dep.state is S.FAILED
        and dep.on_failure in (FailurePolicy.CONTINUE, FailurePolicy.WAIT)
        and (dep.last_error or {}).get("kind") != "dependency_failed"
    )


@st.composite
def small_plans(draw: st.DrawFn) -> dict[str, Any]:
    """2-6 tasks, some deps, reviewers on some, a gate on at most one, some contracts."""
    n = draw(st.integers(2, 6))
    gate = draw(st.integers(0, n - 1) | st.none())
    specs = []
    for i in range(n):
        deps = sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else []
        extra: dict[str, Any] = {
            "lease_s": LEASE_S,
            "priority": draw(st.integers(0, 2)),
            "max_attempts": draw(st.integers(1, 3)),
            "backoff_base_s": draw(st.sampled_from([0.0, 1.0])),
            "on_failure": draw(st.sampled_from(list(FailurePolicy))).value,
            "max_review_rounds": draw(st.integers(1, 2)),
            "requires_approval": gate == i,
        }
        if draw(st.booleans()):
            extra["reviewer_role"] = "reviewer"
        if draw(st.booleans()):
            extra["output_contract"] = CONTRACT
        specs.append(task(f"t{i}", deps=tuple(f"t{d}" for d in deps), **extra))
    return plan(*specs)


@dataclass(frozen=True)
class Call:
    """A mutating call that went through (its idempotency key is stored), and its outcome."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outcome: Any


class BoardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="baton-prop-")
        self.clock = ManualClock()
        board = Board.open(Path(self.dir) / "board.db", clock=self.clock, rng=random.Random(7))
        self.board = SyncBoard(board)
        self.run_id = ""
        self.ids: list[str] = []
        self.leases: list[Lease] = []  # every lease handed out, live or long stale
        self.calls: list[Call] = []
        self.keys = itertools.count()
        self.terminal: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, int] = {}
        self.log: list[Event] = []

    def teardown(self) -> None:
        self.board.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- plumbing --------------------------------------------------------------------

    def act(self, method: str, *args: Any, keyed: bool = True, **kwargs: Any) -> Any:
        """Call ``method``; return its result or the Baton error it raised.

        A refused call (usage error, lost lease) must leave every row as it was. A call
        that went through is remembered, with its key, for :meth:`repeat`.
        """
        if keyed:
            kwargs["idempotency_key"] = f"key-{next(self.keys)}"
        before = self.board.snapshot()
        try:
            result = getattr(self.board, method)(*args, **kwargs)
        except ContractViolation as exc:
            result = exc
        except (UsageError, LeaseLost) as exc:
            assert self.board.snapshot() == before, f"{method} raised {exc!r} and wrote"
            event(f"{method} -> {type(exc).__name__}")
            return exc
        event(f"{method} -> {_label(result)}")
        if keyed:
            self.calls.append(Call(method, args, kwargs, _comparable(result)))
        return result

    def task(self, i: int, *likely: TaskState) -> Task:
        """A task of the run; three times in four one in a ``likely`` state, if any is."""
        tasks = self.board.tasks(self.run_id)
        fitting = [t for t in tasks if t.state in likely]
        pool = fitting if fitting and i % 4 != 3 else tasks
        return pool[i // 4 % len(pool)]

    def lease(self, i: int) -> tuple[Lease, Task, bool]:
        """A lease, the task now, and whether the lease is still live: three times in four
        a live one, if any is, else any lease ever handed out (most long stale)."""
        now = {t.id: t for t in self.board.tasks(self.run_id)}
        rows = [
            (lease, now[lease.task.id], _is_live(lease, now[lease.task.id], self.clock()))
            for lease in self.leases
        ]
        live = [r for r in rows if r[2]]
        pool = live if live and i % 4 != 3 else rows
        return pool[i // 4 % len(pool)]

    # --- rules -------------------------------------------------------------------------

    @initialize(spec=small_plans())
    def create(self, spec: dict[str, Any]) -> None:
        run = self.act("create_run", spec)
        self.run_id = run.id
        self.ids = [f"{run.id}/{t['id']}" for t in spec["tasks"]]

    @rule(who=st.sampled_from(list(PARTICIPANTS)))
    def claim(self, who: str) -> None:
        self._claim(who)

    @rule(who=st.sampled_from(["w1", "w2"]), broken=st.booleans())
    def claim_and_submit(self, who: str, broken: bool) -> None:
        lease = self._claim(who)
        if lease is not None:
            self._submit(lease, self.board.get_task(lease.task.id), True, broken)

    @rule(who=st.sampled_from(["r1", "wr"]), verdict=st.sampled_from(["approve", "reject"]))
    def claim_and_review(self, who: str, verdict: str) -> None:
        lease = self._claim(who)
        if lease is not None and lease.kind is LeaseKind.REVIEW:
            before = self.board.get_task(lease.task.id)
            getattr(self, f"_{verdict}")(before, lease.owner, lease.token)

    def _claim(self, who: str) -> Lease | None:
        roles = PARTICIPANTS[who]
        now = self.clock()
        claimable = [
            t
            for t in self.board.tasks(self.run_id)
            if (t.state is S.READY and t.role in roles and t.not_before <= now)
            or (t.state is S.IN_REVIEW and t.lease_owner is None and t.reviewer_role in roles)
        ]
        lease = self.act("claim", who, roles, run_id=self.run_id)
        if not claimable:
            assert lease is None
            return None
        best = min(claimable, key=lambda t: (-t.priority, t.created_seq))
        assert isinstance(lease, Lease), lease
        assert (lease.task.id, lease.owner, lease.token) == (best.id, who, best.token + 1)
        kind = LeaseKind.WORK if best.state is S.READY else LeaseKind.REVIEW
        assert lease.kind is kind
        assert lease.expires_at == now + LEASE_S
        stored = self.board.get_task(best.id)
        assert stored.state is (S.RUNNING if kind is LeaseKind.WORK else S.IN_REVIEW)
        assert (stored.lease_owner, stored.token) == (who, lease.token)
        self.leases.append(lease)
        return lease

    @precondition(lambda self: self.leases)
    @rule(i=st.integers(0, 99), broken=st.booleans())
    def submit(self, i: int, broken: bool) -> None:
        self._submit(*self.lease(i), broken)

    def _submit(self, lease: Lease, before: Task, live: bool, broken: bool) -> None:
        output = {"ok": "not a boolean"} if broken else {"ok": True}
        out = self.act("submit", before.id, lease.token, output, participant=lease.owner)
        if not live or lease.kind is not LeaseKind.WORK:
            assert isinstance(out, LeaseLost), out
            return
        after = self.board.get_task(before.id)
        if broken and before.output_contract:
            assert isinstance(out, ContractViolation), out
            assert after.state == out.state == _after_failure(before, final=False)
            assert after.output == before.output  # the refused output never lands
            return
        assert isinstance(out, Task), out
        expected = (
            S.IN_REVIEW
            if before.reviewer_role
            else S.AWAITING_APPROVAL
            if before.requires_approval
            else S.DONE
        )
        assert out.state is after.state is expected
        assert after.output == output and after.lease_owner is None

    @precondition(lambda self: self.leases)
    @rule(i=st.integers(0, 99), final=st.booleans())
    def fail(self, i: int, final: bool) -> None:
        lease, before, live = self.lease(i)
        out = self.act(
            "fail", before.id, lease.token, "boom", participant=lease.owner, retryable=not final
        )
        if not live or lease.kind is not LeaseKind.WORK:
            assert isinstance(out, LeaseLost), out
            return
        after = self.board.get_task(before.id)
        assert out == after
        assert after.state is _after_failure(before, final=final)
        assert after.failures == before.failures + 1
        if after.state is S.READY:
            assert after.not_before >= self.clock()
            if before.backoff_base_s == 0:
                assert after.not_before == self.clock()

    @precondition(lambda self: self.leases)
    @rule(i=st.integers(0, 99))
    def block(self, i: int) -> None:
        lease, before, live = self.lease(i)
        out = self.act("block", before.id, lease.token, "need input", participant=lease.owner)
        if not live or lease.kind is not LeaseKind.WORK:
            assert isinstance(out, LeaseLost), out
            return
        assert isinstance(out, Task) and out.state is S.BLOCKED and out.lease_owner is None

    @precondition(lambda self: self.leases)
    @rule(i=st.integers(0, 99))
    def release(self, i: int) -> None:
        lease, before, live = self.lease(i)
        out = self.act("release", before.id, lease.token, participant=lease.owner)
        if not live:
            assert isinstance(out, LeaseLost), out
            return
        assert isinstance(out, Task) and out.lease_owner is None, out
        if lease.kind is LeaseKind.WORK:
            assert out.state is S.READY and out.attempts == before.attempts - 1
        else:
            assert out.state is S.IN_REVIEW and out.token == before.token

    @rule(i=st.integers(0, 99), who=st.sampled_from(["human", "r1"]))
    def unblock(self, i: int, who: str) -> None:
        before = self.task(i, S.BLOCKED)
        out = self.act("unblock", before.id, actor=who)
        if before.state is not S.BLOCKED:
            assert isinstance(out, InvalidTransition), out
            return
        assert isinstance(out, Task), out
        settled = all(_lets_through(d) for d in (self.board.get_task(d) for d in before.depends_on))
        assert out.state is (S.READY if settled else S.PENDING)

    def _reviewer(self, i: int, who: str, with_token: bool) -> tuple[Task, str, int | None]:
        """A task (most likely one awaiting a verdict), and who decides: ``who`` without a
        token, or the holder of the task's latest review lease with its token."""
        before = self.task(i, S.IN_REVIEW, S.AWAITING_APPROVAL)
        mine = [
            lease
            for lease in self.leases
            if lease.task.id == before.id and lease.kind is LeaseKind.REVIEW
        ]
        if with_token and mine:
            return before, mine[-1].owner, mine[-1].token
        return before, who, None

    def _review_call(
        self, method: str, before: Task, who: str, token: int | None, **kw: Any
    ) -> tuple[Task, Task] | None:
        """approve or reject; check the refusals, return the task before and after."""
        out = self.act(method, before.id, actor=who, token=token, **kw)
        if token is not None:
            live = (before.token, before.lease_owner, before.lease_kind) == (token, who, "review")
            if not live or (before.lease_expires_at or 0) <= self.clock():
                assert isinstance(out, LeaseLost), out
                return None
        else:
            foreign = (
                before.lease_kind == "review"
                and before.lease_owner != who
                and (before.lease_expires_at or 0) > self.clock()
            )
            if foreign or before.state not in (S.IN_REVIEW, S.AWAITING_APPROVAL):
                assert isinstance(out, InvalidTransition), out
                return None
        assert isinstance(out, Task), out
        assert out.lease_owner is None
        return before, out

    @rule(i=st.integers(0, 99), who=st.sampled_from(["human", "r1"]), with_token=st.booleans())
    def approve(self, i: int, who: str, with_token: bool) -> None:
        self._approve(*self._reviewer(i, who, with_token))

    def _approve(self, before: Task, who: str, token: int | None) -> None:
        done = self._review_call("approve", before, who, token)
        if done:
            before, out = done
            gate = before.state is S.IN_REVIEW and before.requires_approval
            assert out.state is (S.AWAITING_APPROVAL if gate else S.DONE)

    @rule(i=st.integers(0, 99), who=st.sampled_from(["human", "r1"]), with_token=st.booleans())
    def reject(self, i: int, who: str, with_token: bool) -> None:
        self._reject(*self._reviewer(i, who, with_token))

    def _reject(self, before: Task, who: str, token: int | None) -> None:
        done = self._review_call("reject", before, who, token, feedback="fix it")
        if done:
            before, out = done
            final = before.review_rounds + 1 >= before.max_review_rounds
            assert out.state is (S.FAILED if final else S.READY)
            assert out.review_rounds == before.review_rounds + 1
            assert out.feedback[-1]["items"] == ["fix it"]

    @rule(i=st.integers(0, 99))
    def cancel_task(self, i: int) -> None:
        # Mostly a finished task (refused); cancelling live ones too often ends the story.
        before = self.task(i, *TERMINAL) if i % 3 != 2 else self.task(i)
        out = self.act("cancel_task", before.id, actor="human", reason="not needed")
        if before.state in TERMINAL:
            assert isinstance(out, InvalidTransition), out
            return
        assert isinstance(out, Task) and out.state is S.CANCELLED, out
        for t in self.board.tasks(self.run_id):
            if before.id in t.depends_on and t.state in (S.PENDING, S.BLOCKED):
                raise AssertionError(f"{t.id} still waits on cancelled {before.id}")

    @rule(go=st.integers(0, 9))
    def cancel_run(self, go: int) -> None:
        if go != 9:  # rarely: it ends the interesting part of the example
            return
        active = self.board.get_run(self.run_id).state is RunState.ACTIVE
        out = self.act("cancel_run", self.run_id, actor="human")
        if not active:
            assert isinstance(out, InvalidArgument), out
            return
        assert out.state is RunState.CANCELLED
        assert all(t.state in TERMINAL for t in self.board.tasks(self.run_id))

    @precondition(lambda self: self.leases)
    @rule(i=st.integers(0, 99), forge=st.sampled_from([0, -1, 1, 7]), intruder=st.booleans())
    def heartbeat(self, i: int, forge: int, intruder: bool) -> None:
        """With the lease as handed out (live or stale), or a forged token, or as someone
        else: a heartbeat that is not the holder's is refused and changes nothing."""
        lease, before, _ = self.lease(i)
        token = lease.token + forge
        participant = "intruder" if intruder else lease.owner
        out = self.act("heartbeat", before.id, token, participant, keyed=False)
        unexpired = (before.lease_expires_at or 0) > self.clock()
        if (before.token, before.lease_owner) == (token, participant) and unexpired:
            assert isinstance(out, Lease), out
            assert out.expires_at == self.clock() + LEASE_S
            assert self.board.get_task(before.id).lease_expires_at == out.expires_at
        else:
            assert isinstance(out, LeaseLost), out

    @rule(dt=st.sampled_from([0.5, 1.5, 11.0, 61.0]))
    def time_passes(self, dt: float) -> None:
        """Leases may now be expired but not yet reaped: their holders must not write."""
        self.clock.advance(dt)

    @rule()
    def reaper_runs(self) -> None:
        now = self.clock()
        leased = [t for t in self.board.tasks(self.run_id) if t.lease_expires_at is not None]
        expired = {t.id: t for t in leased if (t.lease_expires_at or 0) < now}
        out = self.act("reap_expired", keyed=False)
        assert {t.id for t in out} == set(expired)
        for t in out:
            before = expired[t.id]
            assert t.lease_owner is None
            if before.lease_kind == "review":
                assert t.state is S.IN_REVIEW
            else:
                assert t.state is _after_failure(before, final=False)
                assert t.last_error is not None and t.last_error["kind"] == "lease_expired"

    @precondition(lambda self: self.calls)
    @rule(i=st.integers(0, 999))
    def repeat(self, i: int) -> None:
        """The same call with the same key returns the first outcome and writes nothing."""
        call = self.calls[i % len(self.calls)]
        before = self.board.snapshot()
        try:
            again = getattr(self.board, call.method)(*call.args, **call.kwargs)
        except ContractViolation as exc:
            again = exc
        assert _comparable(again) == call.outcome
        assert self.board.snapshot() == before
        event(f"repeat {call.method}")

    @precondition(lambda self: self.calls)
    @rule(i=st.integers(0, 999))
    def reuse_key_for_another_call(self, i: int) -> None:
        """A key already used, for another verb or for the same verb on another task, is a
        conflict that changes nothing, never a replay of the first result."""
        call = self.calls[i % len(self.calls)]
        key = call.kwargs["idempotency_key"]
        before = self.board.snapshot()
        with pytest.raises(IdempotencyConflict):
            if call.method == "cancel_task":
                other = next(t for t in self.ids if t != call.args[0])
                self.board.cancel_task(other, actor="human", idempotency_key=key)
            else:
                self.board.cancel_task(self.ids[0], actor="human", idempotency_key=key)
        assert self.board.snapshot() == before

    # --- invariants ------------------------------------------------------------------

    @invariant()
    def board_is_consistent(self) -> None:
        """Every invariant, on one read of the board after each step."""
        if not self.run_id:
            return
        tasks = {t.id: t for t in self.board.tasks(self.run_id)}
        events = self.board.events()
        run = self.board.get_run(self.run_id)
        self.check_leases(tasks)
        self.check_dependencies(tasks)
        self.check_terminal_tasks_frozen(tasks)
        self.check_tokens_and_outputs(tasks)
        self.check_log(tasks, events, run)
        self.check_run_state(tasks, events, run)

    def check_leases(self, tasks: dict[str, Task]) -> None:
        """A lease is whole or absent, and only where the state allows one."""
        for t in tasks.values():
            fields = (t.lease_owner, t.lease_kind, t.lease_expires_at)
            assert all(f is None for f in fields) or all(f is not None for f in fields), t.id
            if t.state is S.RUNNING:
                assert t.lease_kind == "work", t.id
            elif t.lease_kind is not None:
                assert (t.state, t.lease_kind) == (S.IN_REVIEW, "review"), t.id
        # Two claims of one task never got the same token, so at most one is live.
        handed = [(lease.task.id, lease.token) for lease in self.leases]
        assert len(handed) == len(set(handed))

    def check_dependencies(self, tasks: dict[str, Task]) -> None:
        """Ready: every dependency settled. Pending: one still open."""
        for t in tasks.values():
            deps = [tasks[d] for d in t.depends_on]
            if t.state is S.READY:
                for d in deps:
                    assert _lets_through(d), (
                        f"{t.id} is ready but its dependency {d.id} is {d.state.value} "
                        f"({d.on_failure.value}, {d.last_error})"
                    )
            if t.state is S.PENDING:
                assert any(d.state not in TERMINAL for d in deps), (
                    f"{t.id} is pending with every dependency settled: "
                    f"{[(d.id, d.state.value) for d in deps]}"
                )

    def check_terminal_tasks_frozen(self, tasks: dict[str, Task]) -> None:
        for t in tasks.values():
            row = t.model_dump()
            if t.id in self.terminal:
                assert row == self.terminal[t.id], f"terminal task {t.id} changed"
            elif t.state in TERMINAL:
                self.terminal[t.id] = row

    def check_tokens_and_outputs(self, tasks: dict[str, Task]) -> None:
        """Fencing tokens never go back; no output that breaks its contract is done."""
        for t in tasks.values():
            assert t.token >= self.tokens.get(t.id, 0)
            self.tokens[t.id] = t.token
            if t.state is S.DONE:
                assert not violations(t.output, t.output_contract), t.id

    def check_log(self, tasks: dict[str, Task], events: list[Event], run: Any) -> None:
        """Gap-free, append-only, and it replays to exactly what is stored."""
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[: len(self.log)] == self.log, "an event was changed or removed"
        self.log = events
        view = replay(events)
        assert view.tasks == project(tasks.values())
        assert view.runs == {self.run_id: run.state}
        finished: set[str] = set()
        for e in events:
            if e.kind.startswith("task."):  # an escalation may follow a task's failure
                assert e.task_id not in finished, f"{e.kind} on {e.task_id} after it finished"
            if e.task_id and e.kind.startswith("task.") and e.payload.get("to") in TERMINAL:
                finished.add(e.task_id)

    def check_run_state(self, tasks: dict[str, Task], events: list[Event], run: Any) -> None:
        """The run is over exactly when every task is, and says so once in the log."""
        all_terminal = all(t.state in TERMINAL for t in tasks.values())
        assert (run.state is not RunState.ACTIVE) == all_terminal
        kinds = [e.kind for e in events if e.kind.startswith("run.")]
        assert (
            kinds
            == {
                RunState.ACTIVE: ["run.created"],
                RunState.FINISHED: ["run.created", "run.finished"],
                RunState.FAILED: ["run.created", "run.failed"],
                RunState.CANCELLED: ["run.created", "run.cancelled"],
            }[run.state]
        )
        if run.state in (RunState.FINISHED, RunState.FAILED):  # failed iff required work did
            required_failed = [
                t
                for t in tasks.values()
                if t.state is S.SKIPPED
                or (
                    t.state is S.FAILED
                    and (
                        t.on_failure != "continue"
                        or (t.last_error or {}).get("kind") == "dependency_failed"
                    )
                )
            ]
            assert (run.state is RunState.FAILED) == bool(required_failed)


def _is_live(lease: Lease, task: Task, now: float) -> bool:
    """The lease is the task's current one and has not expired (reaped or not)."""
    current = (task.token, task.lease_owner, task.lease_kind)
    return (
        current == (lease.token, lease.owner, lease.kind.value)
        and (task.lease_expires_at or 0) > now
    )


def _after_failure(t: Task, *, final: bool) -> TaskState:
    """Where a failed attempt of ``t`` leads."""
    return S.FAILED if final or t.failures + 1 >= t.max_attempts else S.READY


def _label(result: Any) -> str:
    """What a call gave, for ``--hypothesis-show-statistics``."""
    if isinstance(result, (Task, Lease)):
        t = result if isinstance(result, Task) else result.task
        return t.state.value
    if isinstance(result, list):
        return "some" if result else "none"
    return type(result).__name__


def _comparable(outcome: Any) -> Any:
    if isinstance(outcome, ContractViolation):
        return ("ContractViolation", outcome.task_id, outcome.errors, outcome.state)
    return outcome


BoardMachine.TestCase.settings = settings(
    # BATON_PROPERTY_EXAMPLES=2000 for a deep run; the default keeps `make test` quick.
    max_examples=int(os.environ.get("BATON_PROPERTY_EXAMPLES", "150")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBoardStateMachine = BoardMachine.TestCase


# --- the plan graph ----------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,5}", fullmatch=True)


@st.composite
def dags(draw: st.DrawFn, min_nodes: int = 1) -> tuple[list[str], dict[str, list[str]]]:
    """Task ids in a random order and each one's dependencies (only on earlier-made ids)."""
    names = draw(st.lists(ids, min_size=min_nodes, max_size=12, unique=True))
    deps = {
        n: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3))) if i else []
        for i, n in enumerate(names)
    }
    return draw(st.permutations(names)), deps


def _plan(order: list[str], deps: Mapping[str, list[str]]) -> dict[str, Any]:
    return plan(*(task(n, deps=tuple(deps[n])) for n in order))


def _reach(deps: Mapping[str, list[str]], start: str) -> set[str]:
    """Everything ``start`` depends on, directly or not (brute force)."""
    seen: set[str] = set()
    todo = list(deps.get(start, []))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(deps.get(n, []))
    return seen


def _has_cycle(edges: Mapping[str, list[str]]) -> bool:
    """Plain recursive three-colour DFS: the oracle for :func:`find_cycles`."""
    colour: dict[str, int] = {}

    def visit(n: str) -> bool:
        colour[n] = 1
        for m in edges.get(n, []):
            if colour.get(m) == 1 or (colour.get(m) is None and visit(m)):
                return True
        colour[n] = 2
        return False

    return any(colour.get(n) is None and visit(n) for n in edges)


def _is_cycle(cycle: list[str], edges: Mapping[str, list[str]]) -> bool:
    pairs = zip(cycle, cycle[1:] + cycle[:1], strict=True)
    return len(set(cycle)) == len(cycle) and all(b in edges.get(a, []) for a, b in pairs)


@settings(max_examples=100, deadline=None)
@given(dags())
def test_random_dags_are_accepted(dag: tuple[list[str], dict[str, list[str]]]) -> None:
    order, deps = dag
    parsed = parse_plan(_plan(order, deps))
    assert [t.id for t in parsed.tasks] == order
    assert check_plan(parsed) == []
    topo = topological_order({t.id: t.depends_on for t in parsed.tasks})
    assert sorted(topo) == sorted(order)
    position = {n: i for i, n in enumerate(topo)}
    assert all(position[d] < position[n] for n in order for d in deps[n])


@settings(max_examples=100, deadline=None)
@given(dags(min_nodes=1), st.data())
def test_one_back_edge_is_refused_naming_a_real_cycle(
    dag: tuple[list[str], dict[str, list[str]]], data: st.DataObject
) -> None:
    order, deps = dag
    a = data.draw(st.sampled_from(order), label="a")
    # b is something a already depends on (or a itself): b depending on a closes a cycle.
    b = data.draw(st.sampled_from(sorted(_reach(deps, a) | {a})), label="b")
    cyclic = {n: list(ds) for n, ds in deps.items()}
    cyclic[b] = sorted({*cyclic[b], a})

    with pytest.raises(InvalidPlan) as info:
        parse_plan(_plan(order, cyclic))
    problems = info.value.problems
    assert problems and all(p.code == "cycle" for p in problems), problems
    assert len(problems) == 1, problems  # every cycle goes through the new edge: one SCC
    (problem,) = problems
    cycle = list(problem.ids)
    assert set(cycle) <= set(order)
    assert {a, b} <= set(cycle)
    if a == b:
        assert cycle == [a]
    else:
        assert _is_cycle(cycle, cyclic), (cycle, cyclic)
    assert set(info.value.offending_ids) == set(cycle)


@st.composite
def digraphs(draw: st.DrawFn) -> dict[str, list[str]]:
    """Any directed graph on up to 8 nodes, without self-loops."""
    n = draw(st.integers(1, 8))
    names = [f"n{i}" for i in range(n)]
    pairs = [(x, y) for x in names for y in names if x != y]
    chosen = draw(st.sets(st.sampled_from(pairs), max_size=12)) if pairs else set()
    return {x: sorted(y for (p, y) in chosen if p == x) for x in names}


@settings(max_examples=100, deadline=None)
@given(digraphs())
def test_find_cycles_agrees_with_brute_force(edges: dict[str, list[str]]) -> None:
    cycles = find_cycles(edges)
    assert bool(cycles) == _has_cycle(edges)
    # One cycle per strongly connected component of more than one node (brute force:
    # mutual reachability), each a real cycle inside its component.
    reach = {n: _reach(edges, n) for n in edges}
    components = {frozenset({n} | {m for m in reach[n] if n in reach[m]}) for n in edges}
    nontrivial = {c for c in components if len(c) > 1}
    assert len(cycles) == len(nontrivial)
    for cycle in cycles:
        assert _is_cycle(cycle, edges), cycle
        assert any(set(cycle) <= c for c in nontrivial)
    assert len({n for c in cycles for n in c}) == sum(len(c) for c in cycles)  # disjoint


# --- bugs found while writing the properties above ------------------------------------


def test_a_dependency_listed_twice_is_refused_as_a_plan_problem(board: SyncBoard) -> None:
    doubled = plan(task("a"), task("b", deps=("a", "a")))
    try:
        board.create_run(doubled)
    except InvalidPlan as exc:
        assert "b" in exc.offending_ids
    except Exception as exc:
        raise AssertionError(f"create_run raised {exc!r}, not InvalidPlan") from exc
    else:
        # Accepting it is fine too, if the task then waits for "a" once, not twice.
        lease = board.claim("w", ["worker"])
        assert lease is not None
        board.submit(lease.task.id, lease.token, {}, participant="w")
        assert board.claim("w", ["worker"]) is not None


def test_a_terminal_tasks_row_never_changes_again(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("c"), task("b", deps=("a", "c"))))
    cancelled = board.cancel_task(f"{run.id}/b", actor="human")
    assert cancelled.state is S.CANCELLED
    lease = board.claim("w", ["worker"])
    assert lease is not None and lease.task.key == "a"
    board.submit(lease.task.id, lease.token, {}, participant="w")
    assert board.get_task(f"{run.id}/b") == cancelled


def test_heartbeat_takes_an_idempotency_key(board: SyncBoard, clock: ManualClock) -> None:
    board.create_run(plan(task("a", lease_s=10.0)))
    lease = board.claim("w", ["worker"])
    assert lease is not None
    clock.advance(1)
    first = board.heartbeat(lease.task.id, lease.token, "w", idempotency_key="hb-1")
    clock.advance(1)
    before = board.snapshot()
    assert board.heartbeat(lease.task.id, lease.token, "w", idempotency_key="hb-1") == first
    assert board.snapshot() == before


def test_reap_expired_takes_an_idempotency_key(board: SyncBoard, clock: ManualClock) -> None:
    board.create_run(plan(task("a", lease_s=10.0)))
    assert board.claim("w", ["worker"]) is not None
    clock.advance(11)
    first = board.reap_expired(idempotency_key="reap-1")
    before = board.snapshot()
    assert board.reap_expired(idempotency_key="reap-1") == first
    assert board.snapshot() == before
