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

from baton.board.core import BoardCore
from baton.board.reading import ReadService
from baton.model.audit import (
    GENESIS,
    AuditReport,
    ChainHead,
    ChainWalk,
    Finding,
    check_head,
)
from baton.model.errors import NotFound
from baton.store import Store

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
        return AuditReport(
            run_id=run_id,
            first_seq=first,
            last_seq=last,
            checked=result.checked,
            archived=chain.archived,
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
