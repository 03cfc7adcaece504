"""Signed events: a participant with an Ed25519 key signs the hashes of the events it
caused (model/audit.py: an event's hash commits to its content and every event before
it), so a rewrite of history would need the participants' private keys too, not only
write access to the database.

Keys are registered on the board (public half only); the participant's process holds
the private key and signs (``baton.runtime.signing``). The Board checks a signature
when it is submitted, and ``audit verify`` checks every stored one again, against the
key it names: a signature made after its key was revoked fails.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from baton.model.errors import InvalidArgument


class ParticipantKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str
    participant: str
    public_key: str  # 32 bytes, hex
    added_at: float
    revoked_at: float | None = None


def key_id_of(public_key_hex: str) -> str:
    return "ed25519:" + hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def check_public_key(public_key_hex: str) -> str:
    """A raw Ed25519 public key as 64 hex digits, or InvalidArgument."""
    try:
        raw = bytes.fromhex(public_key_hex)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidArgument("a public key is a raw Ed25519 key: 64 hex digits") from None
    return raw.hex()


def signed_message(seq: int, event_hash: bytes) -> bytes:
    """What is signed for event ``seq``: its place and its chain hash."""
    return b"baton-event\x00" + seq.to_bytes(8, "big") + event_hash


def signature_valid(public_key_hex: str, seq: int, event_hash: bytes, signature_hex: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), signed_message(seq, event_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
