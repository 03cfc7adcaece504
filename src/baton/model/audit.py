"""The audit chain: every event of a store is linked to the one before it by a hash, so
that an edited, deleted, inserted or reordered event is found by walking the log again.

An event's *digest* is the SHA-256 of its canonical content — run, task, kind, actor,
time and the payload's stored text — and its *hash* is ``SHA-256(previous hash ‖ seq ‖
digest)``: the hash of event ``n`` commits to every event before it. The store writes
both when it appends (the hash inside the transaction that numbers the event, so in
commit order) and keeps the chain's head (last seq and hash) in a row of its own, so
that events deleted from the end are found too.

What this proves and what it does not: anyone who edits rows without recomputing every
later hash and the head is caught. Someone with write access to the database who
recomputes the whole chain is not — against that, keep the head printed by
``baton audit verify`` somewhere else (then a rewritten chain no longer ends there).

Pure functions only: the stores call :func:`event_digest` and :func:`link` when they
write, :func:`walk` checks what they read back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

#: The hash before the first event.
GENESIS = bytes(32)

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def event_digest(
    run_id: str, task_id: str | None, kind: str, actor: str, at: float, payload_text: str
) -> bytes:
    """SHA-256 of an event's canonical content. ``payload_text`` is the payload exactly as
    stored (both stores keep the text they were given), ``at`` is encoded as JSON does
    (the shortest text that reads back as the same float)."""
    head = _encode([run_id, task_id, kind, actor, at])
    return hashlib.sha256(f"{head}\n{payload_text}".encode()).digest()


def link(previous: bytes, seq: int, digest: bytes) -> bytes:
    """The hash of event ``seq``: it commits to the previous hash, its place and its
    content. (PostgreSQL computes the same in SQL: ``sha256(prev || int8send(seq) ||
    digest)``.)"""
    return hashlib.sha256(previous + seq.to_bytes(8, "big", signed=True) + digest).digest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One event as the verifier sees it: its place, the hash stored with it, and the
    digest of its content as read back (recomputed for a live event, kept for an event
    whose content was archived)."""

    seq: int
    hash: bytes
    digest: bytes
    archived: bool = False


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last seq and hash the store recorded (seq 0 and :data:`GENESIS` when empty)."""

    seq: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Finding:
    """The first thing wrong in a walk: the first bad ``seq`` and what is wrong there."""

    seq: int
    problem: str


@dataclass(frozen=True, slots=True)
class WalkResult:
    """How far a walk got: events checked, the hash after the last one, and the first
    bad event if any."""

    checked: int
    last: ChainHead
    finding: Finding | None


class ChainWalk:
    """Checks links fed to it (in seq order, a page at a time) continue the chain from
    ``start`` gap-free, each hash matching its predecessor and its content. Stops at the
    first bad event: everything after it is unproven anyway."""

    def __init__(self, start: ChainHead) -> None:
        self.expected, self.previous, self.checked = start.seq + 1, start.hash, 0
        self.archived = 0
        self.finding: Finding | None = None

    def feed(self, links: Iterable[ChainLink]) -> bool:
        """Check the next links; False once something is wrong."""
        for item in links:
            if item.seq != self.expected:
                self.finding = Finding(
                    self.expected,
                    f"event {self.expected} is missing (deleted, or the events were renumbered)"
                    if item.seq > self.expected
                    else f"event {item.seq} appears out of order after {self.expected - 1}",
                )
                return False
            if link(self.previous, item.seq, item.digest) != item.hash:
                problem = (
                    "its archived digest does not match its hash"
                    if item.archived
                    else "its content does not match its hash (edited, inserted or moved here)"
                )
                self.finding = Finding(item.seq, f"event {item.seq}: {problem}")
                return False
            self.previous, self.expected = item.hash, self.expected + 1
            self.checked += 1
            self.archived += item.archived
        return True

    def result(self, end_seq: int) -> WalkResult:
        """The walk's outcome, having been meant to reach ``end_seq``."""
        last = ChainHead(self.expected - 1, self.previous)
        if self.finding is None and last.seq < end_seq:
            problem = f"event {self.expected} is missing: the log stops at {last.seq} of {end_seq}"
            return WalkResult(self.checked, last, Finding(self.expected, problem))
        return WalkResult(self.checked, last, self.finding)


def walk(links: Iterable[ChainLink], start: ChainHead, end_seq: int) -> WalkResult:
    """:class:`ChainWalk` over links already in memory."""
    chain = ChainWalk(start)
    chain.feed(item for item in links if item.seq <= end_seq)
    return chain.result(end_seq)


def check_head(result: WalkResult, head: ChainHead) -> Finding | None:
    """A whole-log walk must end exactly at the recorded head: events deleted from the
    end (and the head left alone) or appended without going through a store show here."""
    if result.finding is not None:
        return result.finding
    if result.last.seq != head.seq:
        return Finding(
            min(result.last.seq, head.seq) + 1,
            f"the log ends at event {result.last.seq} but its recorded head is {head.seq}",
        )
    if result.last.hash != head.hash:
        return Finding(head.seq, f"event {head.seq}'s hash differs from the recorded head")
    return None


class AuditReport(BaseModel):
    """What ``baton audit verify`` found: the span of the log it walked, how many events
    it proved, the head it ended at (keep ``head_hash`` elsewhere: a later verify that
    still passes through it proves nothing before it was rewritten), and the first bad
    event if any."""

    model_config = ConfigDict(frozen=True)

    run_id: str | None
    first_seq: int
    last_seq: int
    checked: int
    archived: int = 0
    head_seq: int
    head_hash: str
    ok: bool
    bad_seq: int | None = None
    problem: str | None = None
