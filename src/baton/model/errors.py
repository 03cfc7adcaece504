"""Baton's exceptions: one root, three families kept apart.

* :class:`UsageError` — the caller asked for something wrong (bad plan, illegal
  transition, unknown id). Maps to HTTP 4xx and CLI exit code 2. Retrying the same call
  will fail the same way.
* :class:`BatonRuntimeError` — something failed while doing a legitimate thing (the
  database is unreachable, from a newer schema). Maps to HTTP 5xx; may succeed later.
* :class:`Signal` — control flow that a well-behaved participant expects and handles:
  :class:`LeaseLost` (stop working, someone else owns the task now) and
  :class:`ContractViolation` (your output was refused and recorded as a failed attempt).

Callers ``except`` these precisely; messages name the offending ids and say the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class BatonError(Exception):
    """Root of every error Baton raises on purpose."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())


# --- misuse by the caller -------------------------------------------------------------


class UsageError(BatonError):
    """The request is invalid; nothing was changed."""


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan, and the ids it concerns."""

    code: str
    message: str
    ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidPlan(UsageError):
    """The plan was refused whole; nothing was written."""

    #: How many problems the message lists; all of them are on ``.problems``.
    SHOWN = 20

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        self.problems = list(problems)
        shown = self.problems[: self.SHOWN]
        lines = "\n".join(f"  - {p}" for p in shown)
        more = len(self.problems) - len(shown)
        if more:
            lines += f"\n  … and {more} more (every one is on InvalidPlan.problems)"
        super().__init__(f"invalid plan ({len(self.problems)} problem(s)):\n{lines}")

    @property
    def offending_ids(self) -> list[str]:
        return sorted({i for p in self.problems for i in p.ids})


class InvalidTransition(UsageError):
    """The task's state does not allow that action; nothing was changed."""

    def __init__(self, task_id: str, state: str, action: str, why: str = "") -> None:
        self.task_id, self.state, self.action = task_id, state, action
        super().__init__(f"cannot {action} {task_id} [{state}]: {why or f'it is {state}'}")


class NotFound(UsageError):
    """No such object in this store."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind, self.ident = kind, ident
        super().__init__(f"no {kind} with id {ident!r}")


class StoreNotFound(UsageError):
    """There is no store where one was expected, and creating one was not asked for."""

    def __init__(self, path: str, why: str = "no Baton store") -> None:
        self.path = path
        super().__init__(
            f"{why} at {path}; `baton run PLAN --db {path}` creates one, or point --db "
            "(BATON_DB) at an existing store"
        )


class IdempotencyConflict(UsageError):
    """An idempotency key was reused for a different operation."""

    def __init__(self, key: str, first_op: str, op: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was first used for {first_op!r}, not {op!r}; "
            "use a fresh key per distinct call"
        )


class InvalidMessage(UsageError):
    """A message does not fit the schema of its kind; nothing was posted."""


class InvalidArgument(UsageError, ValueError):
    """An argument is out of its allowed range; nothing was changed. (Also a
    ``ValueError``, so code written against the built-in keeps working.)"""


class SecretMissing(UsageError):
    """A task's input refers to secrets (``{"$secret": NAME}``) the worker that claimed
    it does not hold. Names them, never a value."""

    def __init__(self, task_id: str, names: list[str]) -> None:
        super().__init__(
            f"task {task_id!r} needs secret(s) {', '.join(names)}, which this worker does "
            "not hold: set them in its environment (or pass Worker(secrets=...))"
        )
        self.task_id = task_id
        self.names = names


class Unauthenticated(UsageError):
    """The token is not one this board issued, or it was revoked or rotated since."""

    def __init__(self, why: str = "") -> None:
        super().__init__(
            "the token is not valid on this board"
            + (f" ({why})" if why else "")
            + "; `baton participant rotate ID` issues a new one"
        )


class PermissionDenied(UsageError):
    """The acting participant may not do this; nothing was changed (the refusal is
    recorded as an ``access.denied`` event)."""

    def __init__(
        self,
        participant: str,
        action: str,
        missing: str,
        *,
        run_id: str = "",
        target: str = "",
        unseen: bool = False,
    ) -> None:
        self.participant, self.action, self.missing = participant, action, missing
        self.run_id, self.target = run_id, target
        #: The participant may not see the run at all: a door answers as if there
        #: were no such run (HTTP 404), so that its existence does not leak.
        self.unseen = unseen
        on = f" {target}" if target else ""
        super().__init__(f"{participant} may not {action}{on}: {missing}")


class PolicyDenied(PermissionDenied):
    """The board's policy forbids this; nothing was changed (the refusal is recorded as
    a ``policy.denied`` event naming the rule)."""

    def __init__(
        self, participant: str, action: str, rule: str, why: str, *, run_id: str = "",
        target: str = "", version: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(
            participant, action, f"policy rule {rule!r} (version {version}): {why}",
            run_id=run_id, target=target,
        )  # fmt: skip
        self.rule, self.why, self.version = rule, why, version


# --- failures at run time ----------------------------------------------------------


class BatonRuntimeError(BatonError):
    """Baton could not complete a legitimate request; it may succeed later."""


class SchemaTooNew(BatonRuntimeError):
    """The database was written by a newer Baton; upgrade Baton to open it."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"database {path} has schema version {found}, but this Baton supports up to "
            f"{supported}; upgrade Baton (pip install -U baton) to open it"
        )


class StoreUnavailable(BatonRuntimeError):
    """The store cannot be opened or reached."""


class RunFailed(BatonRuntimeError):
    """A run that was waited on ended without success (failed or cancelled)."""

    def __init__(self, run_id: str, state: str, reason: str = "") -> None:
        self.run_id, self.state = run_id, state
        super().__init__(f"run {run_id!r} {state}" + (f": {reason}" if reason else ""))


class TransientConflict(BatonRuntimeError):
    """The store aborted a transaction to break a conflict (a deadlock); nothing of it
    was written, and running it again will succeed."""


# --- control-flow signals ------------------------------------------------------------


class Signal(BatonError):
    """Expected control flow, not a bug: handle it and carry on."""


class LeaseLost(Signal):
    """Your lease on the task is gone (expired and reclaimed, or fenced); drop the work."""

    def __init__(self, task_id: str, token: int, reason: str) -> None:
        self.task_id, self.token, self.reason = task_id, token, reason
        super().__init__(f"lease on task {task_id!r} with token {token} is lost: {reason}")


class ContractViolation(Signal):
    """The output broke the task's contract; it was recorded as a failed attempt."""

    def __init__(self, task_id: str, errors: Sequence[str], state: str) -> None:
        self.task_id, self.errors, self.state = task_id, list(errors), state
        joined = "; ".join(self.errors)
        super().__init__(
            f"output for task {task_id!r} breaks its contract ({joined}); "
            f"recorded as a failed attempt, task is now {state}"
        )


class RetryLater(Signal):
    """Raised by an agent: this attempt failed, but another may succeed (retried with backoff)."""


class GiveUp(Signal):
    """Raised by an agent: this task cannot succeed; fail it for good (no more attempts)."""


class EffectUncertain(Signal):
    """An earlier attempt started this side effect and never recorded it, so it may or
    may not have happened; the worker blocks the task for a person to check."""

    def __init__(self, task_id: str, step: str, started_by: str) -> None:
        super().__init__(
            f"effect {step!r} of task {task_id} was started by {started_by} and never "
            "recorded: it may have happened; blocked for a person to check"
        )
        self.task_id, self.step, self.started_by = task_id, step, started_by


class Conflict(Signal):
    """Someone else changed or holds what this call needed; nothing was written. Re-read
    and try again, or wait for the holder."""


class ArtifactConflict(Conflict):
    """The write was based on a version that is no longer the head, and the artifact's
    merge strategy could not merge it; nothing was written (the conflict is an
    ``artifact.conflict`` event). ``hunks`` shows each overlapping change: base, head
    and the refused write. ``escalated``: a human was asked to resolve it."""

    def __init__(
        self,
        artifact: str,
        base: int | None,
        head: int,
        why: str,
        hunks: Sequence[Mapping[str, Any]] = (),
        *,
        escalated: bool = False,
    ) -> None:
        self.artifact, self.base, self.head, self.why = artifact, base, head, why
        self.hunks, self.escalated = [dict(h) for h in hunks], escalated
        read = "no version" if base is None else f"version {base}"
        then = "; a human was asked to resolve it" if escalated else "; re-read and retry"
        super().__init__(
            f"artifact {artifact} is at version {head} but the write read {read}: {why}{then}"
        )


class ReservationConflict(Conflict):
    """What the call needs is reserved by another task: who holds it, for which task,
    until when."""

    def __init__(
        self,
        resource: str,
        held: str,
        holder: str,
        task_id: str,
        expires_at: float | None,
        *,
        why: str = "",
    ) -> None:
        self.resource, self.held, self.holder = resource, held, holder
        self.task_id, self.expires_at = task_id, expires_at
        until = f" until {expires_at:.3f}" if expires_at is not None else ""
        what = why or f"{resource!r} overlaps {held!r}"
        super().__init__(f"{what}, reserved by {holder} for task {task_id!r}{until}")
