"""Participants and their tokens: registered by an admin, a token shown once and kept
only as a hash, rotation and revocation effective at once — on both stores."""

from __future__ import annotations

import hashlib

import pytest

from baton import (
    InvalidArgument,
    NotFound,
    ParticipantKind,
    SyncBoard,
    Unauthenticated,
)
from tests.conformance._util import over_http, refused
from tests.conformance.authz import denied


def test_a_token_is_shown_once_and_only_its_hash_is_stored(board: SyncBoard) -> None:
    alice, token = board.add_participant(
        "alice", kind="agent", name="Alice the writer", roles=["writer"], runs=["*"]
    )
    assert token.startswith("baton_pt_") and len(token) > 40
    assert alice.kind is ParticipantKind.AGENT and alice.roles == ["writer"]
    assert alice.token_hint.startswith("baton_pt_") and token not in repr(alice)
    stored = repr(board.snapshot())
    assert token not in stored and token[len("baton_pt_") :] not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert board.get_participant("alice") == alice
    assert [p.id for p in board.participants()] == ["alice"]
    who = board.authenticate(token)
    assert who.id == "alice" and who.roles == {"writer"} and not who.owner
    assert "token_hash" not in repr(who)
    added = [e for e in board.events() if e.kind == "participant.added"]
    assert len(added) == 1 and added[0].payload["participant"] == "alice"
    assert token not in repr(added[0])


def test_a_wrong_token_is_refused(board: SyncBoard) -> None:
    _, token = board.add_participant("alice", kind="agent")
    for bad in [token[:-1] + ("x" if token[-1] != "x" else "y"), "baton_pt_", "", "hunter2"]:
        with pytest.raises(Unauthenticated):
            board.authenticate(bad)


def test_rotating_stops_the_old_token_at_once_even_on_a_board_already_logged_in(
    board: SyncBoard,
) -> None:
    _, old = board.add_participant("alice", kind="agent", roles=["writer"], runs=["*"])
    run = board.create_run(
        {"goal": "g", "roles": ["writer"], "tasks": [{"id": "a", "role": "writer"}]}
    )
    alice = board.login(old)
    assert alice.get_run(run.id).id == run.id
    new = board.rotate_token("alice")
    assert new != old
    # locally the logged-in board knows it held the old token; over HTTP the old token
    # is simply no longer one the server knows
    why = "not valid" if over_http(board) else "rotated"
    with pytest.raises(Unauthenticated, match=why):
        alice.get_run(run.id)
    with pytest.raises(Unauthenticated, match=why):
        alice.claim("alice", ["writer"], run_id=run.id)
    with pytest.raises(Unauthenticated):
        board.authenticate(old)
    assert board.login(new).claim("alice", ["writer"], run_id=run.id) is not None
    assert board.get_participant("alice").rotated_at is not None


def test_revoking_stops_the_token_at_once_and_twice_changes_nothing(board: SyncBoard) -> None:
    _, token = board.add_participant("alice", kind="human", runs=["*"])
    alice = board.login(token)
    assert alice.list_runs() == []
    revoked = board.revoke_participant("alice")
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthenticated, match="revoked"):
        alice.list_runs()
    with pytest.raises(Unauthenticated, match="revoked"):
        board.authenticate(token)
    assert refused(board, Unauthenticated, alice.last_seq)
    before = board.snapshot()
    assert board.revoke_participant("alice") == revoked
    assert board.snapshot() == before
    refused(board, InvalidArgument, board.rotate_token, "alice")


@pytest.mark.parametrize(
    ("pid", "kw"),
    [
        ("", {"kind": "agent"}),
        ("a b", {"kind": "agent"}),
        ("x\x1b[31m", {"kind": "agent"}),
        ("alice", {"kind": "robot"}),
        ("alice", {"kind": "agent", "grants": ["root"]}),
        ("alice", {"kind": "agent", "roles": "writer"}),
        ("alice", {"kind": "agent", "roles": ["bad role"]}),
        ("alice", {"kind": "agent", "runs": ["../etc"]}),
        ("alice", {"kind": "agent", "name": "\x00"}),
    ],
)
def test_bad_registrations_are_refused(board: SyncBoard, pid: str, kw: dict[str, object]) -> None:
    refused(board, InvalidArgument, board.add_participant, pid, **kw)


def test_an_id_is_registered_once(board: SyncBoard) -> None:
    board.add_participant("alice", kind="agent")
    refused(board, InvalidArgument, board.add_participant, "alice", kind="human")


def test_unknown_participants_are_not_found(board: SyncBoard) -> None:
    refused(board, NotFound, board.get_participant, "nobody")
    refused(board, NotFound, board.revoke_participant, "nobody")
    refused(board, NotFound, board.rotate_token, "nobody")


def test_only_an_admin_manages_participants(board: SyncBoard) -> None:
    _, token = board.add_participant("alice", kind="agent", roles=["writer"])
    alice = board.login(token)
    error = denied(board, alice.add_participant, "mallory", kind="agent", grants=["admin"])
    assert "alice" in str(error) and "admin" in str(error)
    denied(board, alice.revoke_participant, "alice")
    denied(board, alice.rotate_token, "alice")
    denied(board, alice.participants)
    assert alice.get_participant("alice").id == "alice"  # itself, yes
    _, admin_token = board.add_participant("root", kind="service", grants=["admin"])
    root = board.login(admin_token)
    _, bob_token = root.add_participant("bob", kind="agent")
    assert board.authenticate(bob_token).id == "bob"
    assert [e.actor for e in board.events() if e.kind == "participant.added"][-1] == "root"
