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
    signatures: int = 0
    head_seq: int
    head_hash: str
    ok: bool
    bad_seq: int | None = None
    problem: str | None = None


# --- archives: a run's events moved to a file, the chain kept -------------------------

ARCHIVE_FORMAT = "baton-archive/1"


class ArchivedEvent(BaseModel):
    """One event as an archive file holds it: its stored fields exactly (the payload as
    its stored text, so the digest can be recomputed byte for byte) and its hash."""

    model_config = ConfigDict(frozen=True)

    seq: int
    run_id: str
    task_id: str | None
    kind: str
    actor: str
    payload: str
    at: float
    hash: str

    def digest(self) -> bytes:
        return event_digest(self.run_id, self.task_id, self.kind, self.actor, self.at, self.payload)


class ArchiveRecord(BaseModel):
    """The hand-over point of an archived run, kept in the live store (and announced by
    a ``run.archived`` event, itself on the chain)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    path: str
    events: int
    first_seq: int
    last_seq: int
    file_hash: str
    archived_by: str
    archived_at: float


class ArchiveReport(BaseModel):
    """What ``baton audit verify --archive FILE`` found."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    ok: bool
    events: int
    file_hash: str = ""
    bad_seq: int | None = None
    problem: str | None = None


def file_link(previous: bytes, line: str) -> bytes:
    """The archive file's own chain: each line's hash commits to every line before."""
    return hashlib.sha256(previous + line.encode()).digest()


def archive_lines(run_id: str, events: list[ArchivedEvent]) -> tuple[list[str], str]:
    """An archive file's lines (a header, one line per event, a trailer with the file's
    chain head) and that head."""
    head = _encode(
        {
            "format": ARCHIVE_FORMAT,
            "run_id": run_id,
            "events": len(events),
            "first_seq": events[0].seq if events else 0,
            "last_seq": events[-1].seq if events else 0,
        }
    )
    lines, h = [head], file_link(GENESIS, head)
    for e in events:
        line = e.model_dump_json()
        lines.append(line)
        h = file_link(h, line)
    lines.append(_encode({"file_hash": h.hex()}))
    return lines, h.hex()


def check_archive(
    lines: list[str], kept: dict[int, tuple[bytes, bytes]]
) -> tuple[str, list[ArchivedEvent], Finding | None]:
    """Prove an archive file: its own chain up to the trailer, each event's digest from
    its content, and each event against what the live store kept for its seq (``kept``:
    seq → (digest, hash)). Returns the file's chain head, its events and the first
    problem, if any (``Finding.seq`` 0 for a problem with the file itself)."""
    if len(lines) < 2:
        return "", [], Finding(0, "not an archive: fewer than two lines")
    h = file_link(GENESIS, lines[0])
    events: list[ArchivedEvent] = []
    for number, line in enumerate(lines[1:-1], start=2):
        h = file_link(h, line)
        try:
            events.append(ArchivedEvent.model_validate_json(line))
        except ValueError:
            return h.hex(), events, Finding(0, f"line {number} is not an archived event")
    try:
        trailer = json.loads(lines[-1])["file_hash"]
    except (ValueError, KeyError, TypeError):
        return h.hex(), events, Finding(0, "the last line is not the archive's trailer")
    if trailer != h.hex():
        return h.hex(), events, Finding(0, "the file's own chain does not end at its trailer")
    for e in events:
        digest = e.digest()
        if e.seq not in kept:
            return h.hex(), events, Finding(e.seq, f"event {e.seq} is not archived in the store")
        kept_digest, kept_hash = kept[e.seq]
        if digest != kept_digest or bytes.fromhex(e.hash) != kept_hash:
            problem = f"event {e.seq} in the file differs from what the store kept"
            return h.hex(), events, Finding(e.seq, problem)
    return h.hex(), events, None
