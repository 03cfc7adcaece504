"""Verifying the audit chain (model/audit.py): walk the store's events in seq order and
prove each one's hash from its predecessor and its content, naming the first bad seq.

The whole log (``run_id=None``, for principals that see every run) is walked from the
first event and must end at the recorded head. One run is proved by walking the span of
the log from its first event to the event after its last — other runs' events in
between included, since the chain runs through them — starting from the hash of the
event before it: an event of the run edited, deleted or moved anywhere in that span is
found, and so is one cut from its end (the next event no longer links).
"""

from __future__ import annotations

import json

from baton.board.authorization import require_grant
from baton.board.core import BoardCore
from baton.board.reading import ReadService
from baton.board.signatures import check_signatures
from baton.model import RUN_ENDED
from baton.model.audit import (
    GENESIS,
    ArchivedEvent,
    ArchiveRecord,
    ArchiveReport,
    AuditReport,
    ChainHead,
    ChainWalk,
    Finding,
    archive_lines,
    check_archive,
    check_head,
)
from baton.model.errors import InvalidArgument, NotFound, TransientConflict
from baton.model.events import EventKind
from baton.model.participants import Grant, Principal
from baton.store import Store, Tx

#: Links read per query: large enough that a million-event walk is a hundred queries.
PAGE = 10_000
_END = 2**62


class AuditService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core
        self._reads = ReadService(core)

    async def verify(self, run_id: str | None = None) -> AuditReport:
        store = self.core.store
        head = await store.chain_head()
        await self._reads.check_scope(run_id, "verify the audit log of")
        if run_id is None:  # past the head if anything is there: appended behind the store
            beyond = await store.chain_links(head.seq, _END, 1)
            first, last = 1, head.seq + 1 if beyond else head.seq
        else:
            span = await store.run_span(run_id)
            if span is None:
                raise NotFound("events of run", run_id)
            first, last = span[0], min(span[1] + 1, head.seq)
        start, broken = await _start(store, first)
        chain = ChainWalk(start)
        after = start.seq
        while broken is None and after < last:
            page = await store.chain_links(after, last, PAGE)
            if not page or not chain.feed(page):
                break
            after = page[-1].seq
        result = chain.result(last)
        found = broken or (check_head(result, head) if run_id is None else result.finding)
        signed, bad = await check_signatures(self.core, first, last)
        if found is None and bad is not None:
            found = Finding(*bad)
        return AuditReport(
            run_id=run_id,
            first_seq=first,
            last_seq=last,
            checked=result.checked,
            archived=chain.archived,
            signatures=signed,
            head_seq=head.seq,
            head_hash=head.hash.hex(),
            ok=found is None,
            bad_seq=None if found is None else found.seq,
            problem=None if found is None else found.problem,
        )


async def _start(store: Store, first: int) -> tuple[ChainHead, Finding | None]:
    """Where a walk from ``first`` starts: the hash of the event before it."""
    if first <= 1:
        return ChainHead(0, GENESIS), None
    before = await store.link_hash(first - 1)
    if before is None:
        problem = f"event {first - 1}, which event {first} links to, is missing"
        return ChainHead(first - 1, GENESIS), Finding(first - 1, problem)
    return ChainHead(first - 1, before), None


class ArchiveService:
    """Retention: an ended run's events moved to an archive file, the chain kept whole.

    Two steps, so that nothing is removed before the file is safely written: the caller
    takes the run's events (:meth:`export`), writes the file (``audit.archive_lines``),
    then asks the Board to :meth:`compact`, naming the file's chain head. The Board
    recomputes that head from its own rows — the file must hold exactly what the store
    held — and in one transaction keeps each event's digest and hash
    (``archived_events``, so the store's chain is still proved), removes the events,
    records the hand-over (``archives``) and appends ``run.archived``, itself on the
    chain. An event appended to the run in between makes the compaction refuse."""

    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def export(self, run_id: str) -> list[ArchivedEvent]:
        await self._archivable(run_id)
        found: list[ArchivedEvent] = []
        after = 0
        while True:
            page = await self.core.store.archive_rows(run_id, after, PAGE)
            found.extend(page)
            if len(page) < PAGE:
                return found
            after = page[-1].seq

    async def compact(
        self, run_id: str, *, path: str, file_hash: str, actor: str | None = None
    ) -> ArchiveRecord:
        rows = await self.export(run_id)
        if not rows:
            raise InvalidArgument(f"run {run_id!r} has no live events to archive")
        _, expected = archive_lines(run_id, rows)
        if file_hash != expected:
            raise InvalidArgument(
                f"the archive's chain head {file_hash[:16]}… is not the one of run "
                f"{run_id}'s events ({expected[:16]}…): write the file from export()"
            )

        async def body(tx: Tx, now: float, who: Principal) -> ArchiveRecord:
            require_grant(who, Grant.ADMIN, "archive runs")
            await tx.insert_archived(
                [(r.seq, r.run_id, r.digest(), bytes.fromhex(r.hash)) for r in rows]
            )
            removed = await tx.delete_run_events(run_id, rows[-1].seq)
            if removed != len(rows):
                raise TransientConflict(
                    f"run {run_id} changed while it was archived ({removed} events, not "
                    f"{len(rows)}): export it again"
                )
            record = ArchiveRecord(
                run_id=run_id, path=path, events=len(rows), first_seq=rows[0].seq,
                last_seq=rows[-1].seq, file_hash=file_hash, archived_by=actor or who.id,
                archived_at=now,
            )  # fmt: skip
            await tx.insert_archive(record)
            payload = record.model_dump(exclude={"run_id", "archived_at"})
            await tx.append_event(run_id, None, EventKind.RUN_ARCHIVED, record.archived_by,
                                  payload, now)  # fmt: skip
            return record

        return await self.core.write(f"archive {run_id}", "archive", None, body)

    async def verify_archive(self, lines: list[str]) -> ArchiveReport:
        """Prove an archive file against the store's hand-over record and kept links."""
        try:
            header = json.loads(lines[0]) if lines else {}
            run_id = str(header["run_id"])
        except (ValueError, KeyError, TypeError):
            return ArchiveReport(run_id="", ok=False, events=0, problem="not an archive file")

        async def admin(who: Principal) -> None:
            _require_admin(who)

        await self.core.read(admin)
        record = await self.core.store.get_archive(run_id)
        if record is None:
            return ArchiveReport(run_id=run_id, ok=False, events=0,
                                 problem=f"the store has no archive of run {run_id}")  # fmt: skip
        head, events, found = check_archive(lines, await self.core.store.archived_links(run_id))
        if found is None and head != record.file_hash:
            found = Finding(0, "the file's chain head is not the one the store recorded")
        if found is None and len(events) != record.events:
            found = Finding(
                0, f"the file has {len(events)} events, the store archived {record.events}"
            )
        return ArchiveReport(
            run_id=run_id, ok=found is None, events=len(events), file_hash=head,
            bad_seq=None if found is None else found.seq or None,
            problem=None if found is None else found.problem,
        )  # fmt: skip

    async def _archivable(self, run_id: str) -> None:
        async def check(who: Principal) -> None:
            _require_admin(who)
            run = await self.core.store.get_run(run_id)
            if run is None:
                raise NotFound("run", run_id)
            if run.state not in RUN_ENDED:
                raise InvalidArgument(
                    f"run {run_id} is {run.state.value}: only ended runs are archived"
                )
            if await self.core.store.get_archive(run_id) is not None:
                raise InvalidArgument(f"run {run_id} is archived already")

        await self.core.read(check)


def _require_admin(who: Principal) -> None:
    require_grant(who, Grant.ADMIN, "archive runs")
