"""The board's policy (model/policies.py): set a new version, read it, check a plan
against it, and the checks the other services call — who may create a run, which side
effects a role may run. Every rule is enforced here, for every door; a refusal is
:class:`PolicyDenied` naming the rule, recorded as a ``policy.denied`` event."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from baton.board.authorization import require_grant
from baton.board.core import BoardCore
from baton.model import Plan
from baton.model.errors import InvalidArgument, PolicyDenied
from baton.model.events import BOARD_SCOPE, EventKind
from baton.model.participants import Grant, Principal
from baton.model.policies import (
    Policy,
    PolicyCheck,
    PolicyRecord,
    apply_policy,
    may_create_runs,
    tool_allowed,
)
from baton.planning.graph import parse_plan
from baton.store import Tx


def parse_policy(policy: Policy | Mapping[str, Any]) -> Policy:
    """A policy document validated against the schema, or InvalidArgument naming what
    is wrong where."""
    if isinstance(policy, Policy):
        return policy
    try:
        return Policy.model_validate(policy)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors()[:20]
        )
        raise InvalidArgument(f"invalid policy: {problems}") from None


def check_create(record: PolicyRecord | None, who: Principal) -> None:
    """Refuse a run's creation the policy forbids to ``who``."""
    if record is None or who.owner:
        return
    if not may_create_runs(record.policy, who.id, list(who.roles)):
        raise PolicyDenied(
            who.id, "create runs", "create_runs",
            "only the participants and roles it names may create runs",
            version=record.version,
        )  # fmt: skip


def check_tool(
    record: PolicyRecord | None, who: Principal, role: str, step: str, run_id: str
) -> None:
    """Refuse a side effect the run's policy does not allow ``role`` to run."""
    if record is None or tool_allowed(record.policy, role, step):
        return
    raise PolicyDenied(
        who.id, f"run effect {step!r} as role {role!r}", "tools",
        f"role {role!r} may not run {step!r}", run_id=run_id, target=step,
        version=record.version,
    )  # fmt: skip


class PolicyService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def set_policy(
        self, policy: Policy | Mapping[str, Any], *, actor: str | None = None
    ) -> PolicyRecord:
        parsed = parse_policy(policy)

        async def body(tx: Tx, now: float, who: Principal) -> PolicyRecord:
            require_grant(who, Grant.ADMIN, "set the board's policy")
            await tx.lock_policies()
            current = await tx.current_policy()
            record = PolicyRecord(
                version=1 if current is None else current.version + 1,
                policy=parsed,
                set_by=actor or who.id,
                set_at=now,
            )
            await tx.insert_policy(record)
            digest = hashlib.sha256(parsed.model_dump_json().encode()).hexdigest()
            payload = {"version": record.version, "name": parsed.name, "digest": digest}
            await tx.append_event(BOARD_SCOPE, None, EventKind.POLICY_SET, record.set_by,
                                  payload, now)  # fmt: skip
            return record

        record = await self.core.write("set_policy", "policy", None, body)
        self.core.rates.policy_changed(record)
        return record

    async def policy(self) -> PolicyRecord | None:
        return await self.core.store.current_policy()

    async def check_policy(self, plan: Plan | Mapping[str, Any]) -> PolicyCheck:
        parsed = parse_plan(plan)
        record = await self.core.store.current_policy()
        who = self.core.principal
        refusal = None
        try:
            check_create(record, who)
        except PolicyDenied as denied:
            refusal = str(denied)
        if record is None:
            return PolicyCheck(version=None, may_create=True, triggered=[], plan=parsed)
        planned, triggered = apply_policy(parsed, record.policy)
        return PolicyCheck(
            version=record.version,
            may_create=refusal is None,
            refusal=refusal,
            triggered=triggered,
            plan=planned,
        )
