"""Signing one's own events (model/signatures.py) from the participant's process, where
the private key lives: ``Worker(signing_key=...)`` signs the events each attempt caused
right after it; :func:`sign_own_events` does it for any program."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from baton.board import BoardAPI
from baton.model.signatures import signed_message


def public_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key, as ``register_key`` takes it."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


async def sign_own_events(
    board: BoardAPI, participant: str, key: Ed25519PrivateKey, run_id: str, *, since: int = 0
) -> tuple[int, int]:
    """Sign every event of ``run_id`` after ``since`` that ``participant`` caused; how
    many were signed, and the last seq looked at (the next call's ``since``)."""
    signed = 0
    while True:
        page = await board.event_hashes(run_id, since=since, limit=1000)
        mine = [
            (seq, key.sign(signed_message(seq, bytes.fromhex(h))).hex())
            for seq, actor, h in page
            if actor == participant
        ]
        if mine:
            signed += await board.sign_events(participant, mine)
        if page:
            since = page[-1][0]
        if len(page) < 1000:
            return signed, since
