"""Participants' Ed25519 keys and their signatures over the events they caused
(model/signatures.py). Registering or revoking a key is the participant's own act (or
an admin's), on the chain as an event; a signature is checked when submitted — the
event must be one the signer caused, the key its active one — and again by
``audit verify``."""

from __future__ import annotations

from collections.abc import Sequence

from baton.board.authorization import require_grant, require_self
from baton.board.core import BoardCore
from baton.board.reading import ReadService
from baton.model.errors import InvalidArgument
from baton.model.events import BOARD_SCOPE, EventKind
from baton.model.limits import check_name
from baton.model.participants import Grant, Principal
from baton.model.signatures import (
    ParticipantKey,
    check_public_key,
    key_id_of,
    signature_valid,
)
from baton.store import Tx

#: Signatures per call: a worker signs an attempt's few events; a backlog goes in pages.
MAX_SIGNATURES = 1000


def _may_manage(who: Principal, participant: str, action: str) -> None:
    if who.owner or who.id == participant:
        return
    require_grant(who, Grant.ADMIN, action)


class SignatureService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def register_key(self, participant: str, public_key: str) -> ParticipantKey:
        check_name("participant", participant)
        raw = check_public_key(public_key)

        async def body(tx: Tx, now: float, who: Principal) -> ParticipantKey:
            _may_manage(who, participant, f"register a key for {participant}")
            await tx.revoke_keys(participant, now)
            key = ParticipantKey(
                key_id=key_id_of(raw), participant=participant, public_key=raw, added_at=now
            )
            await tx.insert_key(key)
            payload = {"participant": participant, "key_id": key.key_id, "public_key": raw}
            await tx.append_event(BOARD_SCOPE, None, EventKind.PARTICIPANT_KEY_ADDED, who.id,
                                  payload, now)  # fmt: skip
            return key

        return await self.core.write(f"register_key {participant}", "key", None, body)

    async def revoke_key(self, participant: str) -> None:
        check_name("participant", participant)

        async def body(tx: Tx, now: float, who: Principal) -> None:
            _may_manage(who, participant, f"revoke the key of {participant}")
            key = await tx.active_key(participant)
            if key is None:
                raise InvalidArgument(f"{participant} has no active key")
            await tx.revoke_keys(participant, now)
            payload = {"participant": participant, "key_id": key.key_id}
            await tx.append_event(BOARD_SCOPE, None, EventKind.PARTICIPANT_KEY_REVOKED, who.id,
                                  payload, now)  # fmt: skip

        await self.core.write(f"revoke_key {participant}", "none", None, body)

    async def sign_events(self, participant: str, signatures: Sequence[tuple[int, str]]) -> int:
        check_name("participant", participant)
        if not 0 < len(signatures) <= MAX_SIGNATURES:
            raise InvalidArgument(f"sign 1 to {MAX_SIGNATURES} events, got {len(signatures)}")

        async def body(tx: Tx, now: float, who: Principal) -> int:
            require_self(who, participant, "sign events")
            key = await tx.active_key(participant)
            if key is None:
                raise InvalidArgument(
                    f"{participant} has no active key: register one (register_key) first"
                )
            for seq, signature in signatures:
                found = await tx.event_actor_hash(seq)
                if found is None:
                    raise InvalidArgument(f"event {seq} is not in the live log")
                actor, event_hash = found
                if actor != participant:
                    raise InvalidArgument(
                        f"event {seq} was caused by {actor}, not {participant}: one signs "
                        "only one's own events"
                    )
                if not signature_valid(key.public_key, seq, event_hash, signature):
                    raise InvalidArgument(f"the signature of event {seq} does not verify")
                await tx.insert_signature(seq, key.key_id, signature, now)
            return len(signatures)

        return await self.core.write(f"sign_events by {participant}", "count", None, body)

    async def event_hashes(
        self, run_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, str]]:
        """(seq, actor, chain hash) of a visible run's events after ``since``."""
        events = await ReadService(self.core).events(run_id, since=since, limit=limit)
        out = []
        for e in events:
            h = await self.core.store.link_hash(e.seq)
            if h is not None:
                out.append((e.seq, e.actor, h.hex()))
        return out


async def check_signatures(
    core: BoardCore, first: int, last: int
) -> tuple[int, tuple[int, str] | None]:
    """Every stored signature over events ``first..last`` against its key: how many
    were checked, and the first bad one (seq, why)."""
    keys = {k.key_id: k for k in await core.store.all_keys()}
    rows = await core.store.signatures_between(first - 1, last)
    for seq, key_id, signature, signed_at, event_hash, actor in rows:
        key = keys.get(key_id)
        if key is None:
            return len(rows), (seq, f"event {seq} is signed with an unknown key {key_id}")
        if key.revoked_at is not None and signed_at > key.revoked_at:
            return len(rows), (seq, f"event {seq} was signed after key {key_id} was revoked")
        if event_hash is None:
            continue  # archived: its hash is proved by the chain, its content is in the file
        if actor != key.participant:
            return len(rows), (seq, f"event {seq} by {actor} is signed by {key.participant}")
        if not signature_valid(key.public_key, int(seq), bytes(event_hash), signature):
            return len(rows), (seq, f"event {seq}'s signature does not match it")
    return len(rows), None
