"""Artifact benchmark: write throughput with and without contention, how it holds up as
the history grows, and what a three-way merge of a 1 MB text costs.

    .venv/bin/python bench/artifacts.py [--quick] [--json]

All on a SQLite store file (the embedded default), through the public ``Board`` API —
what ``ctx.artifacts`` calls:

* **uncontended**: one process writes version after version of one 2 kB document, each
  based on the head it just wrote (a fast-forward); beside it the raw limit, measured in
  the same run: the same rows (blob, version, head, event) written by plain ``sqlite3``
  in one ``BEGIN IMMEDIATE`` transaction each, with the store's own pragmas.
* **history**: the same writes at several history lengths (versions 1 to N): the cost per
  write must not grow with the history.
* **contended**: P processes each make K read-modify-write updates of *one* shared
  document (each its own section, so concurrent writes merge) with the retry loop of
  ``ctx.artifacts.update``; against P processes writing P *separate* documents. Reported:
  updates/s, writes refused and retried, writes merged.
* **1 MB merge**: one write whose base is behind the head on a 1 MB text (20,000 lines;
  the head changed the top, the writer the bottom): the Board call end to end, against
  ``merge3`` alone on the same three texts, and a fast-forward write of the same text.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import merge3
from rich.console import Console
from rich.table import Table

from baton import ArtifactConflict, Board

DOC = "".join(f"line {i}: some words of a shared design document\n" for i in range(40))


def _plan() -> dict[str, Any]:
    return {"goal": "bench", "roles": ["worker"], "tasks": [{"id": "a", "role": "worker"}]}


async def _fast_forwards(db: str, n: int, size_doc: str) -> list[float]:
    """Seconds per write, each a fast-forward of the one before."""
    board = Board.open(db)
    try:
        run = await board.create_run(_plan())
        head = (await board.write_artifact(run.id, "doc.md", size_doc)).version.version
        times = []
        for i in range(n):
            started = time.perf_counter()
            wrote = await board.write_artifact(
                run.id, "doc.md", size_doc + f"edit {i}\n", base=head
            )
            times.append(time.perf_counter() - started)
            head = wrote.version.version
        return times
    finally:
        await board.close()


def _raw_writes(db: str, n: int, size_doc: str) -> float:
    """Writes/s of the same rows in plain sqlite3: the raw limit."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(
        "CREATE TABLE blobs (digest TEXT PRIMARY KEY, content TEXT NOT NULL);"
        "CREATE TABLE versions (name TEXT, version INTEGER, digest TEXT, author TEXT, at REAL,"
        " PRIMARY KEY (name, version));"
        "CREATE TABLE heads (name TEXT PRIMARY KEY, head INTEGER);"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, kind TEXT, payload TEXT, at REAL);"
        "INSERT INTO heads VALUES ('doc.md', 0);"
    )
    started = time.perf_counter()
    for i in range(n):
        text = size_doc + f"edit {i}\n"
        digest = hashlib.sha256(text.encode()).hexdigest()
        conn.execute("BEGIN IMMEDIATE")
        (head,) = conn.execute("SELECT head FROM heads WHERE name = 'doc.md'").fetchone()
        conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (digest, text))
        conn.execute(
            "INSERT INTO versions VALUES ('doc.md', ?, ?, 'me', ?)", (head + 1, digest, 0.0)
        )
        conn.execute("UPDATE heads SET head = ? WHERE name = 'doc.md'", (head + 1,))
        conn.execute("INSERT INTO events (kind, payload, at) VALUES ('w', ?, 0)", (digest,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def _writer(
    db: str, run_id: str, name: str, section: str, updates: int, out: Any, gate: Any
) -> None:
    asyncio.run(_write_updates(db, run_id, name, section, updates, out, gate))


async def _write_updates(
    db: str, run_id: str, name: str, section: str, updates: int, out: Any, gate: Any
) -> None:
    board = Board.open(db, create=False)
    await board.read_artifact(run_id, name)  # opened and warm before the clock starts
    out.put("ready")
    gate.wait()
    conflicts = merged = 0
    try:
        for i in range(updates):
            while True:
                head = await board.read_artifact(run_id, name)
                lines = head.content.splitlines(keepends=True)
                at = lines.index(f"## {section}\n") + 1
                while at < len(lines) and not lines[at].startswith("## "):
                    at += 1
                text = "".join([*lines[:at], f"{section}-{i}\n", *lines[at:]])
                try:
                    wrote = await board.write_artifact(
                        run_id, name, text, base=head.version.version
                    )
                except ArtifactConflict:
                    conflicts += 1
                    continue
                merged += wrote.merged
                break
    finally:
        await board.close()
    out.put((conflicts, merged))


def _contended(folder: Path, writers: int, updates: int, shared: bool) -> dict[str, Any]:
    db = str(folder / f"contended-{writers}-{shared}.db")

    async def setup() -> str:
        board = Board.open(db)
        run = await board.create_run(_plan())
        names = ["shared.md"] if shared else [f"doc{w}.md" for w in range(writers)]
        for name in names:
            await board.write_artifact(
                run.id, name, "".join(f"## w{w}\n" for w in range(writers)) + "## end\n"
            )
        await board.close()
        return run.id

    run_id = asyncio.run(setup())
    ctx = multiprocessing.get_context("spawn")
    out, gate = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(
            target=_writer,
            args=(db, run_id, "shared.md" if shared else f"doc{w}.md", f"w{w}", updates, out, gate),
        )
        for w in range(writers)
    ]
    for p in procs:
        p.start()
    assert [out.get(timeout=120) for _ in procs] == ["ready"] * writers
    started = time.perf_counter()
    gate.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    total = writers * updates
    return {
        "writers": writers,
        "shared": shared,
        "updates": total,
        "updates_per_s": total / elapsed,
        "refused_and_retried": sum(c for c, _ in results),
        "merged": sum(m for _, m in results),
    }


async def _merge_1mb(db: str) -> dict[str, float]:
    lines = [f"{i:06d} a line of a big generated file, about fifty bytes\n" for i in range(20_000)]
    base = "".join(lines)
    head = "".join(["HEAD CHANGED THE TOP\n", *lines])
    mine = "".join([*lines, "MINE CHANGED THE BOTTOM\n"])
    started = time.perf_counter()
    m = merge3.Merge3(
        base.splitlines(keepends=True), head.splitlines(keepends=True), mine.splitlines(True)
    )
    merged_text = "".join(line for group in m.merge_groups() for line in group[1])
    raw_merge = time.perf_counter() - started
    assert merged_text.startswith("HEAD") and merged_text.endswith("BOTTOM\n")
    board = Board.open(db)
    try:
        run = await board.create_run(_plan())
        await board.write_artifact(run.id, "big.txt", base)
        await board.write_artifact(run.id, "big.txt", head, base=1)
        started = time.perf_counter()
        wrote = await board.write_artifact(run.id, "big.txt", mine, base=1)
        board_merge = time.perf_counter() - started
        assert wrote.merged
        started = time.perf_counter()
        await board.write_artifact(run.id, "big.txt", base, base=3)
        fast_forward = time.perf_counter() - started
    finally:
        await board.close()
    return {
        "bytes": len(base.encode()),
        "board_merge_ms": board_merge * 1000,
        "merge3_alone_ms": raw_merge * 1000,
        "fast_forward_ms": fast_forward * 1000,
    }


def run(quick: bool) -> dict[str, Any]:
    n = 300 if quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = asyncio.run(_fast_forwards(str(folder / "ff.db"), n, DOC))
        raw = _raw_writes(str(folder / "raw.db"), n, DOC)
        per_write = statistics.median(times)
        chunk = max(1, n // 10)
        history = {
            f"versions {i + 1}-{i + chunk}": 1000 * statistics.median(times[i : i + chunk])
            for i in (0, n // 2, n - chunk)
        }
        writers, updates = (4, 50) if quick else (10, 100)
        contended = [
            _contended(folder, writers, updates, shared=True),
            _contended(folder, writers, updates, shared=False),
        ]
        merge = asyncio.run(_merge_1mb(str(folder / "merge.db")))
    return {
        "uncontended": {
            "writes": n,
            "writes_per_s": 1 / per_write,
            "raw_sqlite_writes_per_s": raw,
            "ratio_to_raw": (1 / per_write) / raw,
        },
        "history_ms_per_write": history,
        "contended": contended,
        "merge_1mb": merge,
    }


def show(result: dict[str, Any], console: Console) -> None:
    un = result["uncontended"]
    t = Table(title="Artifact writes (SQLite, one process, fast-forward, 2 kB)")
    for col in ("writes", "Board writes/s", "raw sqlite3 writes/s", "ratio"):
        t.add_column(col, justify="right")
    t.add_row(
        str(un["writes"]), f"{un['writes_per_s']:,.0f}", f"{un['raw_sqlite_writes_per_s']:,.0f}",
        f"{un['ratio_to_raw']:.2f}",
    )  # fmt: skip
    console.print(t)
    h = Table(title="Cost per write as the history grows (median ms)")
    h.add_column("versions")
    h.add_column("ms/write", justify="right")
    for k, v in result["history_ms_per_write"].items():
        h.add_row(k, f"{v:.3f}")
    console.print(h)
    c = Table(title="Read-modify-write updates by several processes (retry on conflict)")
    for col in ("writers", "documents", "updates", "updates/s", "refused+retried", "merged"):
        c.add_column(col, justify="right")
    for row in result["contended"]:
        c.add_row(
            str(row["writers"]), "one shared" if row["shared"] else "one each",
            str(row["updates"]), f"{row['updates_per_s']:,.0f}",
            str(row["refused_and_retried"]), str(row["merged"]),
        )  # fmt: skip
    console.print(c)
    m = result["merge_1mb"]
    g = Table(title=f"Three-way merge of a {m['bytes'] / 1e6:.1f} MB text (ms)")
    for col in ("Board write (merge)", "merge3 alone", "Board write (fast-forward)"):
        g.add_column(col, justify="right")
    g.add_row(
        f"{m['board_merge_ms']:.0f}", f"{m['merge3_alone_ms']:.0f}", f"{m['fast_forward_ms']:.0f}"
    )
    console.print(g)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller runs, well under a minute")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    result = run(args.quick)
    show(result, Console(stderr=args.json))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
