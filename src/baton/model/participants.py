"""Participants: who may act on a board, and with which permissions.

A participant is registered once (an id, a kind, a display name, the roles it may claim
and review, its grants) and receives a bearer token; the store keeps only the token's
SHA-256 (the token is 256 random bits, so a fast hash is enough: there is nothing to
brute-force). A :class:`Principal` is the authenticated participant a Board acts as.

A board opened on a local store without a token acts as :data:`OWNER`, the store's local
owner: whoever can open the database file could rewrite it anyway, so the owner may do
everything and names participants freely (``participant="w1"``), which keeps embedded
use, the quickstart and the examples unchanged. Permissions bind every other principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class ParticipantKind(StrEnum):
    AGENT = "agent"
    HUMAN = "human"
    SERVICE = "service"


class Grant(StrEnum):
    """What a participant may do beyond claiming and reviewing for its roles."""

    CREATE_RUNS = "create_runs"  # create runs (and see the runs it created)
    APPROVE = "approve"  # pass or refuse human approval gates; approve any review
    ANSWER = "answer"  # answer escalations
    STEER = "steer"  # pause, resume and cancel runs; add, cancel and unblock tasks
    CONTEXT = "context"  # read and write artifacts in every scope of the runs it sees
    ADMIN = "admin"  # register, rotate and revoke participants; implies every grant


#: A ``runs`` entry that grants every run.
ALL_RUNS: Final = "*"
#: Every token starts with this, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX: Final = "baton_pt_"


class Participant(BaseModel):
    """A registered participant, as stored (without its token hash)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: ParticipantKind
    name: str
    roles: list[str] = Field(default_factory=list)
    grants: list[Grant] = Field(default_factory=list)
    runs: list[str] = Field(default_factory=list)  # the runs it may see; "*" for all
    created_at: float
    rotated_at: float | None = None
    revoked_at: float | None = None
    token_hint: str = ""  # the token's first characters, to tell tokens apart

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Principal(BaseModel):
    """Who a Board call acts as: the store's owner, or an authenticated participant
    (its token hash is re-checked in every transaction, so that revoking or rotating
    takes effect at once)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: ParticipantKind = ParticipantKind.SERVICE
    roles: frozenset[str] = frozenset()
    grants: frozenset[Grant] = frozenset()
    runs: frozenset[str] = frozenset()
    token_hash: str = Field(default="", repr=False)
    owner: bool = False

    @classmethod
    def of(cls, participant: Participant, token_hash: str) -> Principal:
        return cls(
            id=participant.id,
            kind=participant.kind,
            roles=frozenset(participant.roles),
            grants=frozenset(participant.grants),
            runs=frozenset(participant.runs),
            token_hash=token_hash,
        )

    def has(self, grant: Grant) -> bool:
        return self.owner or Grant.ADMIN in self.grants or grant in self.grants

    def sees_all_runs(self) -> bool:
        return self.owner or Grant.ADMIN in self.grants or ALL_RUNS in self.runs

    def sees_run(self, run_id: str, created_by: str | None) -> bool:
        return self.sees_all_runs() or run_id in self.runs or created_by == self.id


#: The local owner of a store: what a Board opened without a token acts as.
OWNER: Final = Principal(id="owner", owner=True)


def new_token() -> str:
    """A fresh bearer token: the recognisable prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Compare token hashes in constant time."""
    return hmac.compare_digest(a, b)


def token_hint(token: str) -> str:
    """The prefix and the first four secret characters, safe to show in listings."""
    return token[: len(TOKEN_PREFIX) + 4] + "…"
