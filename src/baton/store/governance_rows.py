"""Rows ↔ models for the governance tables: the audit chain (events' hashes, archived
links, archives), the effect ledger, policies and participants' keys. Beside
:mod:`baton.store.rows`, which converts the board's core records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from baton.model.audit import (
    GENESIS,
    ArchivedEvent,
    ArchiveRecord,
    ChainHead,
    ChainLink,
    event_digest,
    link,
)
from baton.model.effects import Effect, EffectState
from baton.model.policies import Policy, PolicyRecord
from baton.model.signatures import ParticipantKey
from baton.store.rows import dumps, loads


def chain_link_from_row(row: Sequence[Any]) -> ChainLink:
    """A ``chain_links`` row as the audit walk sees it: a live event's digest recomputed
    from what is stored now (so an edit shows), an archived one's as kept."""
    seq, run_id, task_id, kind, actor, payload, at, hash_, archived = row
    stored = b"" if hash_ is None else bytes(hash_)
    if archived is not None:
        return ChainLink(int(seq), stored, bytes(archived), archived=True)
    return ChainLink(int(seq), stored, event_digest(run_id, task_id, kind, actor, at, payload))


def chain_unchained(rows: Iterable[Sequence[Any]]) -> tuple[list[tuple[bytes, int]], ChainHead]:
    """Hashes for events written before the audit chain existed (``seq, run_id, task_id,
    kind, actor, payload, at`` rows in seq order, from the first event): what a store
    fills in once when it is upgraded, and the head they end at."""
    previous, seq, hashes = GENESIS, 0, []
    for seq, run_id, task_id, kind, actor, payload, at in rows:
        previous = link(previous, seq, event_digest(run_id, task_id, kind, actor, at, payload))
        hashes.append((previous, seq))
    return hashes, ChainHead(seq, previous)


def effect_row(effect: Effect) -> tuple[Any, ...]:
    return (
        effect.task_id,
        effect.step,
        effect.key,
        effect.state.value,
        None if effect.result is None else dumps(effect.result),
        effect.attempts,
        effect.started_by,
        effect.started_token,
        effect.started_at,
        effect.done_at,
    )


def effect_from_row(row: Sequence[Any]) -> Effect:
    task_id, step, key, state, result, attempts, by, token, started_at, done_at = row
    return Effect(
        task_id=task_id,
        step=step,
        key=key,
        state=EffectState(state),
        result=None if result is None else loads(result),
        attempts=attempts,
        started_by=by,
        started_token=token,
        started_at=started_at,
        done_at=done_at,
    )


def policy_from_row(row: Sequence[Any]) -> PolicyRecord:
    version, document, set_by, set_at = row
    return PolicyRecord(
        version=int(version),
        policy=Policy.model_validate_json(document),
        set_by=set_by,
        set_at=float(set_at),
    )


def policy_row(record: PolicyRecord) -> tuple[Any, ...]:
    return (record.version, record.policy.model_dump_json(), record.set_by, record.set_at)


def archived_event_from_row(row: Sequence[Any]) -> ArchivedEvent:
    seq, run_id, task_id, kind, actor, payload, at, hash_ = row
    return ArchivedEvent(
        seq=int(seq), run_id=run_id, task_id=task_id, kind=kind, actor=actor,
        payload=payload, at=float(at), hash=b"".hex() if hash_ is None else bytes(hash_).hex(),
    )  # fmt: skip


def archive_from_row(row: Sequence[Any]) -> ArchiveRecord:
    run_id, path, events, first, last, file_hash, by, at = row
    return ArchiveRecord(
        run_id=run_id, path=path, events=int(events), first_seq=int(first),
        last_seq=int(last), file_hash=file_hash, archived_by=by, archived_at=float(at),
    )  # fmt: skip


def archive_row(record: ArchiveRecord) -> tuple[Any, ...]:
    return (
        record.run_id, record.path, record.events, record.first_seq, record.last_seq,
        record.file_hash, record.archived_by, record.archived_at,
    )  # fmt: skip


def key_from_row(row: Sequence[Any]) -> ParticipantKey:
    key_id, participant, public_key, added_at, revoked_at = row
    return ParticipantKey(
        key_id=key_id, participant=participant, public_key=public_key,
        added_at=float(added_at), revoked_at=None if revoked_at is None else float(revoked_at),
    )  # fmt: skip
