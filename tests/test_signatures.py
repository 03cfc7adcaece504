"""Signed events: a worker with an Ed25519 key signs the events it causes; ``audit
verify`` checks every signature — so a history rewritten with the whole hash chain
recomputed (someone with database access) is still caught, and a revoked key's later
signatures fail. Real keys, both stores."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from baton import Board, InvalidArgument, PermissionDenied, SyncBoard, Worker
from baton.model.audit import GENESIS, event_digest, link
from baton.runtime.signing import public_hex
from tests.helpers import plan, task
from tests.test_audit import _raw


def _work(url: str, key: Ed25519PrivateKey) -> str:
    async def main() -> str:
        board = Board.open(url)
        try:
            run = await board.create_run(plan(task("a"), task("b", deps=("a",)), task("c")))
            await board.register_key("w1", public_hex(key))
            worker = Worker(board, {"worker": lambda ctx: {"ok": 1}}, name="w1",
                            watchdog=False, signing_key=key)  # fmt: skip
            await asyncio.wait_for(worker.run(run_id=run.id), 60)
            return run.id
        finally:
            await board.close()

    return asyncio.run(main())


def _rechain(url: str) -> None:
    """What an attacker with write access does after editing: recompute every hash."""
    with _raw(url) as sql:
        rows = sql("SELECT seq, run_id, task_id, kind, actor, payload, at FROM events ORDER BY seq")
        previous = GENESIS
        for seq, run_id, task_id, kind, actor, payload, at in rows:
            previous = link(previous, seq, event_digest(run_id, task_id, kind, actor, at, payload))
            sql("UPDATE events SET hash = ? WHERE seq = ?", previous, seq)
        if url.startswith("postgresql"):
            sql("UPDATE event_counter SET head = ?", previous)
        else:
            sql("UPDATE event_chain SET hash = ?", previous)


def test_a_rewritten_history_is_caught_by_the_signatures(store_url: str) -> None:
    key = Ed25519PrivateKey.generate()
    run_id = _work(store_url, key)
    with SyncBoard(Board.open(store_url)) as board:
        report = board.verify_audit()
        assert report.ok and report.signatures >= 6  # claims and completions by w1
        signed = [e for e in board.events(run_id) if e.actor == "w1"]
    target = next(e for e in signed if e.kind == "task.complete")
    with _raw(store_url) as sql:
        sql("UPDATE events SET payload = ? WHERE seq = ?", '{"output":"forged"}', target.seq)
    _rechain(store_url)
    with SyncBoard(Board.open(store_url)) as board:
        report = board.verify_audit()
    assert (report.ok, report.bad_seq) == (False, target.seq)
    assert "signature does not match" in (report.problem or "")


def test_a_revoked_keys_later_signatures_fail(store_url: str) -> None:
    key = Ed25519PrivateKey.generate()
    run_id = _work(store_url, key)
    with SyncBoard(Board.open(store_url)) as board:
        board.revoke_key("w1")
        mine = [(s, h) for s, a, h in board.event_hashes(run_id) if a == "w1"]
        seq, event_hash = mine[0]
        from baton.model.signatures import signed_message

        signature = key.sign(signed_message(seq, bytes.fromhex(event_hash))).hex()
        with pytest.raises(InvalidArgument, match="no active key"):
            board.sign_events("w1", [(seq, signature)])
        assert board.verify_audit().ok  # signatures made before revocation still hold
    with _raw(store_url) as sql:
        (key_id,) = sql("SELECT key_id FROM participant_keys")[0]
        sql("INSERT INTO event_signatures (seq, key_id, signature, signed_at) "
            "VALUES (?, ?, ?, 4e9) ON CONFLICT DO NOTHING", seq, key_id, signature)  # fmt: skip
        sql("UPDATE event_signatures SET signed_at = 4e9 WHERE seq = ?", seq)
    with SyncBoard(Board.open(store_url)) as board:
        report = board.verify_audit()
    assert (report.ok, report.bad_seq) == (False, seq)
    assert "revoked" in (report.problem or "")


def test_bad_keys_and_signatures_are_refused(board: SyncBoard) -> None:
    key = Ed25519PrivateKey.generate()
    run = board.create_run(plan(task("a")))
    for bad in ("", "zz", "00" * 31):
        with pytest.raises(InvalidArgument):
            board.register_key("w1", bad)
    board.register_key("w1", public_hex(key))
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None
    board.claim("w2", ["worker"], run_id=run.id)
    hashes = board.event_hashes(run.id)
    mine = next((s, h) for s, a, h in hashes if a == "w1")
    created = next((s, h) for s, a, h in hashes if a != "w1")
    from baton.model.signatures import signed_message

    def sign(seq: int, h: str) -> str:
        return key.sign(signed_message(seq, bytes.fromhex(h))).hex()

    with pytest.raises(InvalidArgument, match="one signs only one's own"):
        board.sign_events("w1", [(created[0], sign(*created))])
    with pytest.raises(InvalidArgument, match="does not verify"):
        board.sign_events("w1", [(mine[0], sign(*created))])
    with pytest.raises(InvalidArgument):
        board.sign_events("w1", [])
    assert board.sign_events("w1", [(mine[0], sign(*mine))]) == 1
    assert board.verify_audit().signatures == 1
    _, token = board.add_participant("eve", kind="agent", roles=["worker"])
    with pytest.raises(PermissionDenied):
        board.login(token).register_key("w1", public_hex(Ed25519PrivateKey.generate()))
