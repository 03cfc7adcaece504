"""Who may do what: the one place the Board's permission rules live.

Every rule is a function of the acting :class:`Principal` (fresh from the store, see
:meth:`BoardCore.verify`) and what the call touches; each raises
:class:`PermissionDenied` naming the participant, the action and what is missing. The
store's local owner passes every rule (see :mod:`baton.model.participants`); the doors
never decide anything themselves — they call the Board, which calls these.
"""

from __future__ import annotations

from collections.abc import Iterable

from baton.model import Run, Task, TaskState
from baton.model.errors import PermissionDenied
from baton.model.participants import Grant, Principal


def require_grant(who: Principal, grant: Grant, action: str, *, run_id: str = "") -> None:
    """``who`` holds ``grant`` (admin holds every grant)."""
    if not who.has(grant):
        raise PermissionDenied(who.id, action, f"it lacks the {grant.value} grant", run_id=run_id)


#: How a participant labels its own parts: ``w1#0`` (a worker's slot), ``w1:watchdog``.
LABEL_SEPARATORS = ("#", ":")


def own_name(who: Principal, name: str) -> bool:
    """``name`` is ``who``'s id or a label of it. Labels are for the log only: what a
    participant did is recorded under its id (``worked_by``), so a label cannot review
    its own participant's work."""
    return name == who.id or name.startswith(tuple(who.id + s for s in LABEL_SEPARATORS))


def require_self(who: Principal, name: str, action: str, *, run_id: str = "") -> None:
    """``who`` acts under its own id (or a label of it, see :func:`own_name`): a
    participant cannot type another's name."""
    if not who.owner and not own_name(who, name):
        raise PermissionDenied(
            who.id, action, f"it is authenticated as {who.id}, not {name}", run_id=run_id
        )


def require_roles(who: Principal, roles: Iterable[str], action: str, *, run_id: str = "") -> None:
    """``who`` may claim (and review) for every role in ``roles``."""
    if who.owner:
        return
    missing = sorted(set(roles) - who.roles)
    if missing:
        raise PermissionDenied(
            who.id, action, f"it does not have the role(s) {', '.join(missing)}", run_id=run_id
        )


def require_run(who: Principal, run: Run, action: str) -> None:
    """``who`` may see ``run``: granted it (or every run), or created it."""
    if not who.sees_run(run.id, run.created_by):
        raise PermissionDenied(
            who.id,
            action,
            f"it is not granted run {run.id}",
            run_id=run.id,
            target=run.id,
            unseen=True,
        )


def require_every_run(who: Principal, action: str) -> None:
    """``who`` may see every run (a call that is not scoped to one run)."""
    if not who.sees_all_runs():
        raise PermissionDenied(
            who.id, action, "it is not granted every run; name the run it may see"
        )


def require_steer(who: Principal, run: Run, action: str) -> None:
    """``who`` may steer ``run`` (pause, resume, cancel, add and cancel tasks): the
    steer grant, or it created the run."""
    require_run(who, run, action)
    if not who.has(Grant.STEER) and run.created_by != who.id:
        raise PermissionDenied(
            who.id,
            action,
            f"it lacks the steer grant and did not create run {run.id}",
            run_id=run.id,
            target=run.id,
        )


def require_reviewer(who: Principal, task: Task, action: str, *, leased: bool) -> None:
    """``who`` may approve or reject ``task``: never its own work; a gate needs the
    approve grant; a review needs the reviewer role (``leased``: it holds the review
    lease, claimed for that role) or the approve grant."""
    if who.owner:
        return
    if task.worked_by == who.id:
        raise PermissionDenied(
            who.id,
            action,
            "nobody reviews or approves their own work",
            run_id=task.run_id,
            target=task.id,
        )
    if task.state is TaskState.AWAITING_APPROVAL or not leased:
        reviewer = task.state is TaskState.IN_REVIEW and task.reviewer_role in who.roles
        if not reviewer and not who.has(Grant.APPROVE):
            needs = (
                "the approve grant"
                if task.state is TaskState.AWAITING_APPROVAL
                else f"the {task.reviewer_role} role or the approve grant"
            )
            raise PermissionDenied(
                who.id, action, f"it lacks {needs}", run_id=task.run_id, target=task.id
            )


def acting_name(who: Principal, given: str | None, default: str, action: str) -> str:
    """The name a call records as its actor: what the owner gave (or ``default``); an
    authenticated participant's own id (giving another name is refused)."""
    if given is None:
        return default if who.owner else who.id
    require_self(who, given, action)
    return given


def readable_scopes(acting: Task, ancestors: Iterable[str]) -> set[str | None]:
    """The artifact scopes a task's holder reads: the run's, its own, its ancestors'
    (the sub-plans it is part of) and its dependencies' (whose outputs it builds on)."""
    return {None, acting.id, *ancestors, *acting.depends_on}


def require_artifact_scope(
    who: Principal,
    run: Run,
    scope: str | None,
    acting: Task | None,
    readable: set[str | None],
    *,
    write: bool,
) -> None:
    """``who`` may read (or ``write``) artifacts in ``scope`` (a task id, or ``None``
    for the run's shared scope) while acting for ``acting``.

    Anyone who sees the run reads its shared scope; a task's scope is read by whoever
    holds or worked a task that may read it (:func:`readable_scopes`), and by people who
    approve or steer. A participant writes only in the scope of the task whose work
    lease it holds. The context grant lifts both limits, within the runs it sees."""
    action = "write artifacts in" if write else "read artifacts of"
    require_run(who, run, action)
    if who.has(Grant.CONTEXT):
        return
    target = scope or run.id
    holds = acting is not None and own_name(who, acting.lease_owner or "")
    if write:
        if acting is None or scope != acting.id or not holds:
            mine = f"task {acting.id}" if acting is not None and holds else "a task it holds"
            raise PermissionDenied(
                who.id,
                action,
                f"it writes only in the scope of {mine} and lacks the context grant",
                run_id=run.id,
                target=target,
            )
        return
    if scope is None or who.has(Grant.STEER) or who.has(Grant.APPROVE):
        return
    if acting is None:
        raise PermissionDenied(
            who.id,
            action,
            "a task's artifacts are read by its holder: name the task it acts for (task_id)",
            run_id=run.id,
            target=target,
        )
    if not holds and acting.worked_by != who.id:
        raise PermissionDenied(
            who.id,
            action,
            f"it neither holds nor worked task {acting.id}",
            run_id=run.id,
            target=target,
        )
    if scope not in readable:
        raise PermissionDenied(
            who.id,
            action,
            f"it is not task {acting.id}'s own, an ancestor's or a dependency's scope",
            run_id=run.id,
            target=target,
        )
