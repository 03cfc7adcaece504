"""Rate limits per participant (model/policies.py ``RateLimit``), checked inside every
write's transaction so that every door and every process shares one count.

The counts live on the board (``rate_counts``, one row per participant and rule for the
current fixed window), bumped in the write's own transaction: a refused or rolled-back
write counts nothing, and two processes acting as the same participant cannot both slip
under the limit. A board with no rate limits pays nothing per write: the gate keeps the
board's current policy and reads it again from the store at most every ``refresh_s``
seconds (at once in the process that set it), so a new policy's limits reach the other
processes within that time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from baton.model.errors import PolicyDenied
from baton.model.participants import Principal
from baton.model.policies import PolicyRecord, rate_limits_for
from baton.store import Tx


class RateGate:
    """The rate-limit check of one board (shared by its views acting as others)."""

    def __init__(self, *, refresh_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.refresh_s = refresh_s
        self._clock = clock
        self._record: PolicyRecord | None = None
        self._read_at = -math.inf

    def policy_changed(self, record: PolicyRecord | None) -> None:
        """This process set a new policy: use it from the next write on."""
        self._record, self._read_at = record, self._clock()

    async def check(self, tx: Tx, who: Principal, op: str, now: float) -> None:
        """Count ``op`` against every rate limit matching ``who``; refuse it with
        :class:`PolicyDenied` naming the rule when one is past its maximum."""
        if who.owner:
            return
        if self._clock() - self._read_at >= self.refresh_s:
            self.policy_changed(await tx.current_policy())
        record = self._record
        if record is None or not record.policy.rate_limits:
            return
        action = op.split(" ", 1)[0]
        for rule in rate_limits_for(record.policy, who.id, who.roles, action):
            window = math.floor(now / rule.per_s) * rule.per_s
            count = await tx.bump_rate(who.id, rule.name, window)
            if count > rule.max:
                raise PolicyDenied(
                    who.id, action, rule.name,
                    f"at most {rule.max} per {rule.per_s:g} s "
                    f"(the window ends in {window + rule.per_s - now:.1f} s)",
                    target=action, version=record.version,
                )  # fmt: skip
