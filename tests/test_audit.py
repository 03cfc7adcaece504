"""The audit chain: every event hashed onto the one before it; ``audit verify`` finds any
row edited, deleted, inserted or reordered directly in the database (SQLite and
PostgreSQL) and names the first bad seq."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from baton import Board, InvalidArgument, PermissionDenied, SyncBoard
from baton.interfaces.cli.app import app
from baton.model.audit import GENESIS, ChainHead, ChainLink, event_digest, link, walk
from baton.model.errors import UsageError
from tests.conformance._util import claim, finish
from tests.helpers import plan, task


def _busy(board: SyncBoard) -> tuple[str, str]:
    """Two runs whose events interleave, with payloads the chain must read back
    byte-exactly (non-ASCII, floats, nesting)."""
    one = board.create_run(plan(task("a"), task("b", deps=("a",))))
    two = board.create_run(plan(task("x")))
    for _ in range(3):
        finish(board, claim(board), {"note": "café ✓", "n": 1e20, "f": 0.1, "deep": [{"k": []}]})
    board.post_message(one.id, "note", {"text": "ünïcode \u2028 line"}, sender="w1")
    return one.id, two.id


@contextmanager
def _raw(url: str) -> Iterator[Callable[..., list[Any]]]:
    """Run SQL straight against the store's database, as someone with file or server
    access would (no Baton code involved)."""
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            yield lambda sql, *p: (lambda c: c.fetchall() if c.description else [])(
                conn.execute(sql.replace("?", "%s"), p)
            )
        return
    db = sqlite3.connect(url, isolation_level=None)
    try:
        yield lambda sql, *p: db.execute(sql, p).fetchall()
    finally:
        db.close()


def _verify(url: str, run_id: str | None = None) -> Any:
    with SyncBoard(Board.open(url, create=False)) as board:
        return board.verify_audit(run_id)


@pytest.fixture
def busy(store_url: str) -> tuple[str, str, str, int]:
    with SyncBoard(Board.open(store_url)) as board:
        one, two = _busy(board)
        head = board.events()[-1].seq
    return store_url, one, two, head


def test_an_untouched_log_verifies_whole_and_per_run(busy: tuple[str, str, str, int]) -> None:
    url, one, two, head = busy
    report = _verify(url)
    assert report.ok, report
    assert (report.checked, report.head_seq, report.first_seq) == (head, head, 1)
    assert len(report.head_hash) == 64
    for run in (one, two):
        assert _verify(url, run).ok


def test_an_edited_payload_is_found_at_its_seq(busy: tuple[str, str, str, int]) -> None:
    url, one, _, _ = busy
    with _raw(url) as sql:
        (seq,) = sql("SELECT seq FROM events WHERE kind = 'task.complete' ORDER BY seq LIMIT 1")[0]
        sql("UPDATE events SET payload = ? WHERE seq = ?", json.dumps({"output": "forged"}), seq)
    report = _verify(url)
    assert (report.ok, report.bad_seq) == (False, seq)
    assert "content does not match" in (report.problem or "")
    assert _verify(url, one).bad_seq == seq


@pytest.mark.parametrize("column", ["actor", "kind", "at", "task_id", "run_id"])
def test_every_column_is_covered(busy: tuple[str, str, str, int], column: str) -> None:
    url, *_ = busy
    value: Any = 5.5 if column == "at" else "mallory"
    with _raw(url) as sql:
        sql(f"UPDATE events SET {column} = ? WHERE seq = 3", value)
    assert _verify(url).bad_seq == 3


def test_a_deleted_event_is_found(busy: tuple[str, str, str, int]) -> None:
    url, one, _, _ = busy
    with _raw(url) as sql:
        sql("DELETE FROM events WHERE seq = 4")
    report = _verify(url)
    assert (report.ok, report.bad_seq) == (False, 4)
    assert "missing" in (report.problem or "")
    assert _verify(url, one).bad_seq == 4


def test_events_cut_from_the_end_are_found(busy: tuple[str, str, str, int]) -> None:
    url, _, _, head = busy
    with _raw(url) as sql:
        sql("DELETE FROM events WHERE seq >= ?", head - 1)
    report = _verify(url)
    assert (report.ok, report.bad_seq) == (False, head - 1)
    assert f"stops at {head - 2} of {head}" in (report.problem or "")


def test_the_last_event_of_a_run_cut_is_found_by_verifying_the_run(
    busy: tuple[str, str, str, int],
) -> None:
    url, _, two, _ = busy
    with _raw(url) as sql:
        last = sql("SELECT MAX(seq) FROM events WHERE run_id = ?", two)[0][0]
        sql("DELETE FROM events WHERE seq = ?", last)
    assert _verify(url, two).bad_seq == last


def test_swapped_rows_are_found(busy: tuple[str, str, str, int]) -> None:
    """Two events' places exchanged (their hashes moved with them, or left in place)."""
    url, *_ = busy
    with _raw(url) as sql:
        sql("UPDATE events SET seq = -1 WHERE seq = 5")
        sql("UPDATE events SET seq = 5 WHERE seq = 6")
        sql("UPDATE events SET seq = 6 WHERE seq = -1")
    assert _verify(url).bad_seq == 5


def test_swapped_contents_are_found(busy: tuple[str, str, str, int]) -> None:
    url, *_ = busy
    with _raw(url) as sql:
        a, b = sql("SELECT payload FROM events WHERE seq IN (7, 8) ORDER BY seq")
        sql("UPDATE events SET payload = ? WHERE seq = 7", b[0])
        sql("UPDATE events SET payload = ? WHERE seq = 8", a[0])
    assert _verify(url).bad_seq == 7


def test_an_inserted_event_is_found(busy: tuple[str, str, str, int]) -> None:
    """A forged event slid in at seq 3, later events renumbered to make room, with a hash
    computed the way the store would have from what came before."""
    url, *_ = busy
    with _raw(url) as sql:
        sql("UPDATE events SET seq = seq + 1000000 WHERE seq >= 3")
        sql("UPDATE events SET seq = seq - 1000000 + 1 WHERE seq >= 1000000")
        (prev,) = sql("SELECT hash FROM events WHERE seq = 2")[0]
        digest = event_digest("r", None, "task.complete", "mallory", 1.0, "{}")
        forged = link(bytes(prev), 3, digest)
        sql(
            "INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash) "
            "VALUES (3, 'r', NULL, 'task.complete', 'mallory', '{}', 1.0, ?)",
            forged,
        )
    assert _verify(url).bad_seq == 4  # the forged one links; the next one no longer does


def test_an_event_appended_behind_the_store_is_found(busy: tuple[str, str, str, int]) -> None:
    url, _, _, head = busy
    with _raw(url) as sql:
        (prev,) = sql("SELECT hash FROM events WHERE seq = ?", head)[0]
        digest = event_digest("r", None, "task.complete", "mallory", 1.0, "{}")
        sql(
            "INSERT INTO events (seq, run_id, task_id, kind, actor, payload, at, hash) "
            "VALUES (?, 'r', NULL, 'task.complete', 'mallory', '{}', 1.0, ?)",
            head + 1,
            link(bytes(prev), head + 1, digest),
        )
    report = _verify(url)
    assert (report.ok, report.bad_seq) == (False, head + 1)


def test_writes_after_verification_keep_the_chain(busy: tuple[str, str, str, int]) -> None:
    """The chain continues across store reopenings and every kind of write."""
    url, one, _, _ = busy
    with SyncBoard(Board.open(url)) as board:
        later = board.create_run(plan(task("later")))
        board.pause_run(later.id, actor="op", reason="check")
        board.resume_run(later.id, actor="op")
        board.post_message(one, "note", {"text": "after"}, sender="w1")
    assert _verify(url).ok


def test_a_store_from_before_the_chain_is_chained_when_it_opens(
    busy: tuple[str, str, str, int],
) -> None:
    url, *_ = busy
    with _raw(url) as sql:
        sql("UPDATE events SET hash = NULL")
        if url.startswith("postgresql"):
            sql("UPDATE event_counter SET head = NULL")
        else:
            sql("DELETE FROM event_chain")
    assert _verify(url).ok


def test_verifying_every_run_needs_a_principal_that_sees_every_run(store_url: str) -> None:
    with SyncBoard(Board.open(store_url)) as board:
        _, token = board.add_participant("bob", kind="agent", roles=["worker"])
        run = board.create_run(plan(task("a")))
        bob = board.login(token)
        with pytest.raises(PermissionDenied) as denied:
            bob.verify_audit()
        assert "every run" in str(denied.value)
        with pytest.raises(PermissionDenied):
            bob.verify_audit(run.id)
        assert board.verify_audit(run.id).ok


def test_cli_prints_the_head_and_exits_1_on_a_broken_chain(tmp_path: Any) -> None:
    db = str(tmp_path / "board.db")
    with SyncBoard(Board.open(db)) as board:
        run, _ = _busy(board)
    runner = CliRunner()
    done = runner.invoke(app, ["audit", "verify", "--all", "--db", db])
    assert done.exit_code == 0, done.output
    assert "ok: the whole log" in done.output and "head" in done.output
    neither = runner.invoke(app, ["audit", "verify", "--db", db])
    assert isinstance(neither.exception, UsageError)  # main() makes it exit 2
    with _raw(db) as sql:
        sql("UPDATE events SET actor = 'mallory' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify", run, "--db", db])
    assert broken.exit_code == 1
    assert "BROKEN at seq 2" in broken.output


def test_verify_over_http(store_url: str) -> None:
    from baton import connect_sync
    from tests.http_door import served

    with served(store_url) as door, connect_sync(door.url, door.owner_token) as remote:
        run, _ = _busy(remote)
        assert remote.verify_audit().ok
        assert remote.verify_audit(run).ok


def test_walk_on_its_own() -> None:
    links, previous = [], GENESIS
    for seq in range(1, 6):
        digest = event_digest("r", None, "k", "a", float(seq), "{}")
        previous = link(previous, seq, digest)
        links.append(ChainLink(seq, previous, digest))
    assert walk(links, ChainHead(0, GENESIS), 5).finding is None
    assert walk(links[:3], ChainHead(0, GENESIS), 5).finding.seq == 4  # type: ignore[union-attr]
    assert walk(links[1:], ChainHead(0, GENESIS), 5).finding.seq == 1  # type: ignore[union-attr]
    reordered = [links[0], links[2], links[1], *links[3:]]
    assert walk(reordered, ChainHead(0, GENESIS), 5).finding.seq == 2  # type: ignore[union-attr]


# --- retention: archiving an ended run ---------------------------------------------------


def _archive(board: SyncBoard, run_id: str) -> tuple[list[str], Any]:
    from baton.model.audit import archive_lines

    lines, file_hash = archive_lines(run_id, board.export_archive(run_id))
    return lines, board.compact_run(run_id, path="mem", file_hash=file_hash)


def test_an_archived_run_leaves_the_chain_provable(store_url: str) -> None:
    with SyncBoard(Board.open(store_url)) as board:
        one, two = _busy(board)
        active = board.create_run(plan(task("later")))
        with pytest.raises(InvalidArgument, match="only ended runs"):
            board.export_archive(active.id)
        before = [e.seq for e in board.events(one)]
        lines, record = _archive(board, one)
        assert record.events == len(before) and record.last_seq == before[-1]
        assert [e.kind for e in board.events(one)] == ["run.archived"]  # the hand-over
        assert board.verify_audit().ok, board.verify_audit()
        assert board.verify_audit(two).ok
        whole = board.verify_audit()
        assert whole.archived == len(before)
        assert board.verify_archive(lines).ok
        with pytest.raises(InvalidArgument, match="archived already"):
            board.export_archive(one)
        # the file edited: its own chain breaks; an event edited with the chain redone:
        # it no longer matches what the store kept
        edited = [lines[0], lines[1].replace('"actor":"', '"actor":"x'), *lines[2:]]
        assert not board.verify_archive(edited).ok
        from baton.model.audit import ArchivedEvent, archive_lines

        events = [ArchivedEvent.model_validate_json(x) for x in lines[1:-1]]
        forged = [events[0].model_copy(update={"actor": "mallory"}), *events[1:]]
        report = board.verify_archive(archive_lines(one, forged)[0])
        assert (report.ok, report.bad_seq) == (False, events[0].seq)
    with _raw(store_url) as sql:
        sql("UPDATE archived_events SET digest = ? WHERE seq = ?", bytes(32), before[1])
    report = _verify(store_url)
    assert (report.ok, report.bad_seq) == (False, before[1])
    assert "archived digest" in (report.problem or "")


def test_compaction_refuses_a_file_that_is_not_the_runs(store_url: str) -> None:
    with SyncBoard(Board.open(store_url)) as board:
        run = board.create_run(plan(task("a")))
        board.cancel_run(run.id, actor="op", reason="x")
        before = board.snapshot()
        with pytest.raises(InvalidArgument, match="chain head"):
            board.compact_run(run.id, path="f", file_hash="0" * 64)
        assert board.snapshot() == before
        _, token = board.add_participant("bob", kind="agent", roles=["worker"], runs=["*"])
        with pytest.raises(PermissionDenied):
            board.login(token).export_archive(run.id)


def test_cli_archives_and_proves_the_file(tmp_path: Any) -> None:
    db = str(tmp_path / "board.db")
    with SyncBoard(Board.open(db)) as board:
        run, _ = _busy(board)
    runner = CliRunner()
    target = tmp_path / "run.archive"
    done = runner.invoke(app, ["audit", "archive", run, "--to", str(target), "--db", db])
    assert done.exit_code == 0, done.output
    assert "archived" in done.output and target.exists()
    again = runner.invoke(app, ["audit", "archive", run, "--to", str(target), "--db", db])
    assert isinstance(again.exception, UsageError)  # never overwritten
    proved = runner.invoke(app, ["audit", "verify", "--archive", str(target), "--db", db])
    assert proved.exit_code == 0, proved.output
    assert runner.invoke(app, ["audit", "verify", "--all", "--db", db]).exit_code == 0
    target.write_text(target.read_text().replace("café", "cafe"))
    broken = runner.invoke(app, ["audit", "verify", "--archive", str(target), "--db", db])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
