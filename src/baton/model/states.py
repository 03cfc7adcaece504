"""The task life cycle: ONE transition table, used by every write.

::

    pending ──deps done──▶ ready ──claim──▶ running ──submit──▶ in_review ──approve──▶ done
       │                    ▲  ▲               │  │                 │
       │                    │  └─retry/lease───┘  │                 └──reject──▶ ready
       │                    └──────approve────── awaiting_approval ◀─(gate)─┘
       └──dep failed (policy)──▶ skipped | failed | blocked
                                              running ──fail(final)──▶ failed
       any non-terminal ──cancel──▶ cancelled  running ──block──▶ blocked ──unblock──▶ ready
       running ──expand (sub-plan)──▶ pending ──children done──▶ done

A review lease (a reviewer claiming an ``in_review`` task) does not change the state,
so it is not in this table; it is guarded by the fencing token like any lease.
"""

from __future__ import annotations

from enum import StrEnum

from baton.model.errors import InvalidTransition


class TaskState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    IN_REVIEW = "in_review"
    AWAITING_APPROVAL = "awaiting_approval"
    BLOCKED = "blocked"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Action(StrEnum):
    DEPS_DONE = "deps_done"
    DEP_FAILED = "dep_failed"  # cascade: the dependency failed, so does this task
    DEP_SKIPPED = "dep_skipped"
    DEP_WAIT = "dep_wait"  # a dependency failed; wait for a human
    CLAIM = "claim"
    COMPLETE = "complete"  # submit with no review and no gate
    SUBMIT_FOR_REVIEW = "submit_for_review"
    SUBMIT_FOR_APPROVAL = "submit_for_approval"
    RETRY = "retry"  # failed attempt with attempts left (error, contract, lease expiry)
    RELEASE = "release"  # give the claim back without counting an attempt
    FAIL = "fail"  # final failure
    BLOCK = "block"
    UNBLOCK = "unblock"  # back to ready: all dependencies are settled
    UNBLOCK_TO_PENDING = "unblock_to_pending"  # back to waiting on dependencies
    APPROVE = "approve"
    APPROVE_TO_GATE = "approve_to_gate"  # review passed, a human approval is still due
    REJECT = "reject"
    REJECT_FINAL = "reject_final"  # rejected with no review rounds left
    CANCEL = "cancel"
    EXPAND = "expand"  # submit of a sub-plan: the task now waits for its children
    CHILDREN_DONE = "children_done"


S, A = TaskState, Action

TERMINAL: frozenset[TaskState] = frozenset({S.DONE, S.FAILED, S.SKIPPED, S.CANCELLED})

TRANSITIONS: dict[tuple[TaskState, Action], TaskState] = {
    (S.PENDING, A.DEPS_DONE): S.READY,
    (S.PENDING, A.DEP_FAILED): S.FAILED,
    (S.PENDING, A.DEP_SKIPPED): S.SKIPPED,
    (S.PENDING, A.DEP_WAIT): S.BLOCKED,
    (S.BLOCKED, A.DEP_FAILED): S.FAILED,
    (S.BLOCKED, A.DEP_SKIPPED): S.SKIPPED,
    (S.READY, A.CLAIM): S.RUNNING,
    (S.RUNNING, A.COMPLETE): S.DONE,
    (S.RUNNING, A.SUBMIT_FOR_REVIEW): S.IN_REVIEW,
    (S.RUNNING, A.SUBMIT_FOR_APPROVAL): S.AWAITING_APPROVAL,
    (S.RUNNING, A.RETRY): S.READY,
    (S.RUNNING, A.RELEASE): S.READY,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.BLOCK): S.BLOCKED,
    (S.BLOCKED, A.UNBLOCK): S.READY,
    (S.BLOCKED, A.UNBLOCK_TO_PENDING): S.PENDING,
    (S.IN_REVIEW, A.APPROVE): S.DONE,
    (S.IN_REVIEW, A.APPROVE_TO_GATE): S.AWAITING_APPROVAL,
    (S.IN_REVIEW, A.REJECT): S.READY,
    (S.IN_REVIEW, A.REJECT_FINAL): S.FAILED,
    (S.AWAITING_APPROVAL, A.APPROVE): S.DONE,
    (S.AWAITING_APPROVAL, A.REJECT): S.READY,
    (S.AWAITING_APPROVAL, A.REJECT_FINAL): S.FAILED,
    (S.RUNNING, A.EXPAND): S.PENDING,
    (S.PENDING, A.CHILDREN_DONE): S.DONE,
    **{(s, A.CANCEL): S.CANCELLED for s in S if s not in TERMINAL},
}


#: The verb a caller used, for errors: internal variants name the public call.
VERB: dict[Action, str] = {
    A.DEPS_DONE: "release dependents",
    A.DEP_FAILED: "fail by cascade",
    A.DEP_SKIPPED: "skip",
    A.DEP_WAIT: "wait on a failed dependency",
    A.COMPLETE: "submit",
    A.SUBMIT_FOR_REVIEW: "submit",
    A.SUBMIT_FOR_APPROVAL: "submit",
    A.RETRY: "fail",
    A.UNBLOCK_TO_PENDING: "unblock",
    A.APPROVE_TO_GATE: "approve",
    A.REJECT_FINAL: "reject",
    A.EXPAND: "submit",
    A.CHILDREN_DONE: "finish with its children",
}


def verb(action: Action) -> str:
    return VERB.get(action, action.value)


def next_state(task_id: str, state: TaskState, action: Action) -> TaskState:
    """The state ``action`` leads to from ``state``.

    Raises:
        InvalidTransition: the table has no such edge; the caller must change nothing.
    """
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(task_id, state.value, verb(action), WHY[state]) from None


#: Why a task in each state refuses what a person tried, and what they can do instead.
WHY: dict[TaskState, str] = {
    S.PENDING: "it is waiting on its dependencies",
    S.READY: "it is ready and nobody has claimed it yet",
    S.RUNNING: "it is being worked on",
    S.IN_REVIEW: "it is in review: approve or reject it",
    S.AWAITING_APPROVAL: "it awaits approval: approve or reject it",
    S.BLOCKED: "it is blocked: unblock or cancel it",
    S.DONE: "it is done; nothing can change it",
    S.FAILED: "it failed for good; nothing can change it",
    S.SKIPPED: "it was skipped; nothing can change it",
    S.CANCELLED: "it was cancelled; nothing can change it",
}


def is_terminal(state: TaskState) -> bool:
    return state in TERMINAL
