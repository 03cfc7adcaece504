"""The board: the one API every participant — agent, human, orchestrator — works through.

Every mutating method is one store transaction that checks, writes the new state and
appends the events describing it; so the store and the log never disagree, and a crash
at any instant leaves either all of a change or none of it. Every mutating method takes
an optional ``idempotency_key``: repeating a call with the same key returns the first
result and writes nothing.

Writes about a claimed task must present the lease's fencing ``token``. A claim bumps
the token, so once a lease has expired and the task was claimed again, the old holder's
writes raise :class:`~baton.errors.LeaseLost` and nothing of theirs lands.
"""

from __future__ import annotations

from baton._board_core import SubmitResult
from baton._board_reading import ReadOps
from baton._board_review import ReviewOps
from baton._board_runs import RunOps
from baton._board_work import WorkOps


class Board(RunOps, WorkOps, ReviewOps, ReadOps):
    """Async board over a :class:`~baton.store.Store`. See the module docstring.

    ``clock`` and ``rng`` are injectable so that tests can expire leases and pin retry
    jitter without sleeping. Each group of methods lives in its own module
    (``_board_runs``, ``_board_work``, ``_board_review``, ``_board_reading``) over the
    shared plumbing in ``_board_core``.
    """


__all__ = ["Board", "SubmitResult"]
