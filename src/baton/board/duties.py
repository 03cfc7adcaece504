"""Singleton duties: work that exactly one process should do at a time (the watchdog),
held by a lease like a task's claim.

Any number of workers ask for the duty every tick; one holds it, renews it while it
lives, and the others take it over within one lease period after it dies. Every
take-over bumps the fencing token, so a holder that was presumed dead and comes back
learns on its next renewal (``LeaseLost``) that it must stop.
"""

from __future__ import annotations

from baton.board.authorization import require_self
from baton.board.core import BoardCore
from baton.model import Duty
from baton.model.errors import InvalidArgument, LeaseLost
from baton.model.limits import check_name
from baton.model.participants import Principal
from baton.store import Tx


class DutyService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def claim_duty(self, name: str, participant: str, *, lease_s: float) -> Duty | None:
        check_name("participant", participant)
        _check(name, participant, lease_s)

        async def body(tx: Tx, now: float, who: Principal) -> Duty | None:
            _require_own_name(who, participant)
            duty = await tx.lock_duty(name)
            if duty.holder == participant and duty.expires_at >= now:
                renewed = duty.model_copy(update={"expires_at": now + lease_s})
            elif duty.holder and duty.expires_at >= now:
                return None  # someone else holds it, alive
            else:
                renewed = Duty(
                    name=name, holder=participant, token=duty.token + 1, expires_at=now + lease_s
                )
            await tx.put_duty(renewed)
            return renewed

        return await self.core.write(f"claim_duty {name}", "duty", None, body)

    async def renew_duty(self, name: str, token: int, participant: str, *, lease_s: float) -> Duty:
        check_name("participant", participant)
        _check(name, participant, lease_s)

        async def body(tx: Tx, now: float, who: Principal) -> Duty:
            _require_own_name(who, participant)
            duty = await tx.lock_duty(name)
            if duty.token == token and duty.holder == participant and duty.expires_at < now:
                # Still ours on paper, but anyone may take it over now: renewing would
                # race a take-over already under way.
                late = now - duty.expires_at
                raise LeaseLost(f"duty:{name}", token, f"it ran out {late:.1f}s before renewal")
            if duty.token != token or duty.holder != participant:
                raise LeaseLost(
                    f"duty:{name}",
                    token,
                    f"it is held by {duty.holder or 'nobody'} with token {duty.token}",
                )
            renewed = duty.model_copy(update={"expires_at": now + lease_s})
            await tx.put_duty(renewed)
            return renewed

        return await self.core.write(f"renew_duty {name}", "duty", None, body)

    async def release_duty(self, name: str, token: int, participant: str) -> None:
        check_name("participant", participant)

        async def body(tx: Tx, now: float, who: Principal) -> None:
            _require_own_name(who, participant)
            duty = await tx.lock_duty(name)
            if duty.token == token and duty.holder == participant:
                await tx.put_duty(duty.model_copy(update={"holder": "", "expires_at": 0.0}))

        await self.core.write(f"release_duty {name}", "none", None, body)

    async def get_duty(self, name: str) -> Duty | None:
        return await self.core.store.get_duty(name)


def _check(name: str, participant: str, lease_s: float) -> None:
    if not name.strip() or not participant.strip():
        raise InvalidArgument("a duty needs a name and a participant")
    if not (0 < lease_s < 86_400):  # also refuses NaN, which compares false
        raise InvalidArgument(f"a duty's lease_s must be between 0 and 86400, got {lease_s}")


def _require_own_name(who: Principal, participant: str) -> None:
    require_self(who, participant, "hold duties")
