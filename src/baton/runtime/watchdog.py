"""The watchdog duty: the orchestrator's checks, run inside ordinary workers.

Returning expired leases, noticing stalls, review loops, wait-for cycles and failing
agents, and pausing runs past their wall-time budget must happen even when nobody
started ``baton orchestrate``. So every :class:`~baton.runtime.worker.Worker` runs a
:class:`WatchdogDuty`: all of them ask the board for the singleton ``watchdog`` duty
each tick, exactly one holds it (a lease with a fencing token, like a task's claim) and
does one orchestrator pass per tick; when that process dies, another takes the duty
over within one lease period (``lease_s``) plus one tick.

A separate orchestrator stays possible: its passes and the duty holder's are the same
idempotent transactions, so running both raises each incident once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from baton.board import BoardAPI
from baton.model import Duty
from baton.model.errors import LeaseLost, StoreUnavailable, TransientConflict
from baton.runtime.orchestrator import Orchestrator

log = logging.getLogger("baton.watchdog")

DUTY = "watchdog"


class WatchdogDuty:
    """Hold the ``watchdog`` duty when it is free and tick the orchestrator's checks.

    ``participant`` names the holder on the board (``get_duty("watchdog")`` shows it);
    ``lease_s`` bounds how long the duty stays with a dead holder; ``tick_s`` is how
    often the holder checks (and everyone else asks for the duty).
    """

    def __init__(
        self,
        board: BoardAPI,
        *,
        participant: str,
        lease_s: float = 10.0,
        tick_s: float = 2.0,
        stall_s: float = 120.0,
    ) -> None:
        self.board = board
        self.participant = participant
        self.lease_s = lease_s
        self.tick_s = min(tick_s, lease_s / 3)  # renew well before the lease runs out
        self.orchestrator = Orchestrator(
            board, name=participant, stall_s=stall_s, tick_s=self.tick_s
        )
        self.held: Duty | None = None
        self.passes = 0

    async def run(self, stop: asyncio.Event, *, run_id: str | None = None) -> None:
        """Until ``stop`` is set: ask for the duty, and while holding it run one
        orchestrator pass per tick (for ``run_id`` only, if given). Gives the duty
        back on the way out, so another process takes it at once."""
        try:
            while not stop.is_set():
                try:
                    await self._tick(run_id)
                except (StoreUnavailable, TransientConflict) as exc:
                    log.warning("%s: watchdog pass failed: %s", self.participant, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick_s)
        finally:
            await self._release()

    async def _tick(self, run_id: str | None) -> None:
        if self.held is None:
            self.held = await self.board.claim_duty(DUTY, self.participant, lease_s=self.lease_s)
            if self.held is None:
                return
            log.info("%s: holds the watchdog duty (token %d)", self.participant, self.held.token)
        else:
            try:
                self.held = await self.board.renew_duty(
                    DUTY, self.held.token, self.participant, lease_s=self.lease_s
                )
            except LeaseLost as exc:  # presumed dead and taken over: stop checking
                log.warning("%s: lost the watchdog duty: %s", self.participant, exc)
                self.held = None
                return
        await self.orchestrator.tick(run_id=run_id)
        self.passes += 1

    async def _release(self) -> None:
        if self.held is None:
            return
        held, self.held = self.held, None
        with contextlib.suppress(StoreUnavailable, TransientConflict, asyncio.CancelledError):
            await asyncio.shield(self.board.release_duty(DUTY, held.token, self.participant))
