"""The board layer: the :class:`Board` facade that every participant and every door
goes through, its interface (:class:`BoardAPI`), and the small services behind it —
transitions, settling consequences, budgets, reviews and approvals, escalations,
messages, reading — plus :class:`SyncBoard`, the blocking twin for scripts and the CLI.

Every rule is enforced here, in one transaction per call. May import:
``baton.planning``, ``baton.views``, ``baton.store``, ``baton.model``.
"""

from __future__ import annotations

from baton.board.core import SubmitResult
from baton.board.facade import Board
from baton.board.protocol import BoardAPI
from baton.board.sync import SyncBoard

__all__ = ["Board", "BoardAPI", "SubmitResult", "SyncBoard"]
