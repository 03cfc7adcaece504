"""Registering participants, their tokens, and authenticating a token.

Adding or rotating returns the token once; the store keeps its SHA-256. These calls
take no idempotency key on purpose: replaying one would have to return the token, so
it would have to be stored. A lost answer to ``add`` is recovered by ``rotate``.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.board.authorization import require_grant
from baton.board.core import BoardCore
from baton.model.errors import InvalidArgument, NotFound, Unauthenticated
from baton.model.events import BOARD_SCOPE, EventKind
from baton.model.limits import check_id, check_name, lookup_id
from baton.model.participants import (
    ALL_RUNS,
    TOKEN_PREFIX,
    Grant,
    Participant,
    ParticipantKind,
    Principal,
    hash_token,
    new_token,
    token_hint,
)
from baton.store import Tx


class ParticipantService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def add(
        self,
        participant_id: str,
        *,
        kind: ParticipantKind | str,
        name: str | None = None,
        roles: Sequence[str] = (),
        grants: Sequence[Grant | str] = (),
        runs: Sequence[str] = (),
    ) -> tuple[Participant, str]:
        check_id("participant", participant_id)
        try:
            kind = ParticipantKind(kind)
            granted = sorted({Grant(g) for g in grants})
        except ValueError as exc:
            raise InvalidArgument(
                f"participant {participant_id}: {exc}; kinds are "
                f"{', '.join(ParticipantKind)}, grants {', '.join(Grant)}"
            ) from None
        if isinstance(roles, str) or isinstance(runs, str):
            raise InvalidArgument(f"participant {participant_id}: roles and runs are lists")
        for role in roles:
            check_id("role", role)
        for run in runs:
            if run != ALL_RUNS:
                check_id("run", run)
        display = check_name("participant", name if name is not None else participant_id)
        token = new_token()

        async def body(tx: Tx, now: float, who: Principal) -> Participant:
            require_grant(who, Grant.ADMIN, "register participants")
            if await tx.lock_participant(participant_id) is not None:
                raise InvalidArgument(f"participant {participant_id} already exists")
            participant = Participant(
                id=participant_id,
                kind=kind,
                name=display,
                roles=sorted(set(roles)),
                grants=granted,
                runs=sorted(set(runs)),
                created_at=now,
                token_hint=token_hint(token),
            )
            await tx.insert_participant(participant, hash_token(token))
            await _record(tx, EventKind.PARTICIPANT_ADDED, participant, who, now)
            return participant

        added = await self.core.write(f"add participant {participant_id}", "none", None, body)
        return added, token

    async def rotate(self, participant_id: str) -> str:
        """A new token for the participant; the old one stops working at once."""
        token = new_token()

        async def body(tx: Tx, now: float, who: Principal) -> None:
            require_grant(who, Grant.ADMIN, "rotate tokens")
            participant = await _load(tx, participant_id)
            if participant.revoked_at is not None:
                raise InvalidArgument(f"participant {participant_id} is revoked; add a new one")
            rotated = participant.model_copy(
                update={"rotated_at": now, "token_hint": token_hint(token)}
            )
            await tx.update_participant(rotated, hash_token(token))
            await _record(tx, EventKind.PARTICIPANT_ROTATED, rotated, who, now)

        await self.core.write(f"rotate {participant_id}", "none", None, body)
        return token

    async def revoke(self, participant_id: str) -> Participant:
        """Revoke the participant: its token stops working at once, on every door.
        Revoking again changes nothing."""

        async def body(tx: Tx, now: float, who: Principal) -> Participant:
            require_grant(who, Grant.ADMIN, "revoke participants")
            found = await tx.lock_participant(lookup_id("participant", participant_id))
            if found is None:
                raise NotFound("participant", participant_id)
            participant, token_hash = found
            if participant.revoked_at is not None:
                return participant
            revoked = participant.model_copy(update={"revoked_at": now})
            await tx.update_participant(revoked, token_hash)
            await _record(tx, EventKind.PARTICIPANT_REVOKED, revoked, who, now)
            return revoked

        return await self.core.write(f"revoke {participant_id}", "none", None, body)

    async def get(self, participant_id: str) -> Participant:
        async def read(who: Principal) -> Participant:
            if participant_id != who.id:
                require_grant(who, Grant.ADMIN, f"read participant {participant_id}")
            found = await self.core.store.get_participant(lookup_id("participant", participant_id))
            if found is None:
                raise NotFound("participant", participant_id)
            return found[0]

        return await self.core.read(read)

    async def list(self) -> list[Participant]:
        async def read(who: Principal) -> list[Participant]:
            require_grant(who, Grant.ADMIN, "list participants")
            return await self.core.store.list_participants()

        return await self.core.read(read)

    async def authenticate(self, token: str) -> Principal:
        """The principal a bearer token stands for; :class:`Unauthenticated` for a
        token this board never issued, or one revoked or rotated since."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise Unauthenticated(f"a Baton token starts with {TOKEN_PREFIX}")
        token_hash = hash_token(token)
        found = await self.core.store.participant_by_token(token_hash)
        if found is None:
            raise Unauthenticated()
        participant, _ = found
        if participant.revoked_at is not None:
            raise Unauthenticated(f"participant {participant.id} was revoked")
        return Principal.of(participant, token_hash)


async def _load(tx: Tx, participant_id: str) -> Participant:
    found = await tx.lock_participant(lookup_id("participant", participant_id))
    if found is None:
        raise NotFound("participant", participant_id)
    return found[0]


async def _record(
    tx: Tx, kind: EventKind, participant: Participant, who: Principal, now: float
) -> None:
    payload = {
        "participant": participant.id,
        "kind": participant.kind.value,
        "roles": participant.roles,
        "grants": [g.value for g in participant.grants],
        "runs": participant.runs,
    }
    await tx.append_event(BOARD_SCOPE, None, kind, who.id, payload, now)
