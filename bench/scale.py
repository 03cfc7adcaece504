"""Scale benchmark: Baton on boards of 1,000 / 100,000 / 1,000,000 tasks, SQLite and PostgreSQL.

Run as::

    .venv/bin/python bench/scale.py [--quick] [--sizes 1k,100k,1M] [--stores sqlite,postgres]
                                    [--json FILE] [--dir PATH]

A board of N tasks is one run of N independent ready tasks of one role, built through
the public API (``create_run`` and ``add_tasks`` in chunks; bench/_scale_build.py says
why). Every size of a store is built first, then measured with all sizes open, the
sizes taking turns in chunks wherever a figure is compared across sizes, so each sees
the same moments of a shared machine. All of Baton's figures go through ``Board.open``
and its methods (``claim``, ``submit``, ``release``, ``reap_expired``, ``events``) and the
documented ``Worker``; the raw reference points are measured on the very same store in
the same run (bench/_scale_raw.py):

(a) ``claim`` latency p50/p99, across runs and scoped to the run, each claim released
    again untimed so the board keeps its size; beside it the raw index seek and Baton's
    own ``find_claimable`` query through the bare driver. Target: claim p50 on the
    largest board within 1.5x of that on the smallest.
(b) Lifecycle throughput: claim + submit, one process; and the documented ``Worker``
    (no-op agent, watchdog duty on) completing a few hundred tasks.
(c) Bytes on disk per 1,000 tasks and per 1,000 events (tables with their indexes).
(d) Time to open the store (``Board.open`` + ``get_run``) and to resume after a killed
    worker: open, reap its expired leases, first claim; one watchdog pass.
(e) The run's whole event log through ``Board.events`` pages of 1,000 against the same
    query raw, and ``views.replay`` of it: on the 1,000,000-task board, a run of over
    1,000,000 events.
(f) Costs that may grow with the run: one ``add_tasks`` of 100; claims with the big run
    paused ahead of a small active one (with the query plans, and a rewritten query
    measured raw beside Baton's: bench/_scale_raw.py).

The PostgreSQL server is ``BATON_BENCH_PG`` (or ``BATON_TEST_PG``), else a throwaway
cluster on loopback started with scripts/pgtest.py (fsync off, as the test clusters).
"""

from __future__ import annotations

import sys

# bench/http.py would shadow the standard library's ``http`` if this folder stayed first
# on sys.path; it goes last instead (for the _scale_* modules beside this file).
if sys.path and sys.path[0].endswith("bench"):
    sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import _scale_run as run
import _scale_stores as stores
from rich.console import Console
from rich.table import Table

DATE = "2026-12-04"
FULL_SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
STORES = ("sqlite", "postgres")
TARGET_CLAIM_GROWTH = 1.5  # claim p50 on the largest board / on the smallest
ROOT = Path(__file__).resolve().parents[1]

err = Console(stderr=True, highlight=False)

FULL = run.Plan(
    sizes=FULL_SIZES,
    chunk=100_000,
    claims=2_000,
    warmup=100,
    lifecycles=300,
    worker_tasks=200,
    raw_reads=2_000,
    open_reps=5,
    resume_leases=200,
    paused_claims=200,
    paused_budget_s=20.0,
    compare_size=100_000,
    compare_per_call=20_000,
)
QUICK = run.Plan(
    sizes=QUICK_SIZES,
    chunk=5_000,
    claims=300,
    warmup=30,
    lifecycles=150,
    worker_tasks=100,
    raw_reads=300,
    open_reps=3,
    resume_leases=50,
    paused_claims=50,
    paused_budget_s=5.0,
    compare_size=10_000,
    compare_per_call=5_000,
)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``1k,100k,1M`` or ``1000,100000``: ascending, at least 1,000 each."""
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        number = int(float(part[:-1] if scale > 1 else part) * scale)
        if number < 1_000:
            raise argparse.ArgumentTypeError(f"a board needs 1,000 tasks at least: {part}")
        out.append(number)
    return tuple(sorted(set(out)))


def parse_stores(text: str) -> tuple[str, ...]:
    got = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in got if s not in STORES]
    if bad or not got:
        raise argparse.ArgumentTypeError(f"stores are {', '.join(STORES)}; got {text!r}")
    return got


# --- summary and verdicts -------------------------------------------------------------


def summarise(rows: dict[str, Any], sizes: Sequence[int]) -> dict[str, Any]:
    """Per store: the largest board against the smallest, for the figures that must
    not grow (p50 and p99 ratios), and Baton against its raw references."""
    small, large = str(sizes[0]), str(sizes[-1])
    out: dict[str, Any] = {"smallest": sizes[0], "largest": sizes[-1]}
    for mode in ("claim_across_runs", "claim_run_scoped", "lifecycle", "raw_find_claimable"):
        for stat in ("p50_ms", "p99_ms"):
            out[f"{mode}_{stat}_growth"] = rows[large][mode][stat] / rows[small][mode][stat]
    for size in (small, large):
        r = rows[size]
        out[f"claim_to_raw_find_p50_{size}"] = (
            r["claim_across_runs"]["p50_ms"] / r["raw_find_claimable"]["p50_ms"]
        )
    out["lifecycle_per_s_ratio"] = (
        rows[large]["lifecycle"]["per_s"] / (rows[small]["lifecycle"]["per_s"])
    )
    out["worker_per_s_ratio"] = rows[large]["worker"]["per_s"] / rows[small]["worker"]["per_s"]
    out["add_tasks_100_growth"] = (
        rows[large]["probes"]["add_tasks_100_s"] / rows[small]["probes"]["add_tasks_100_s"]
    )
    paused = rows[large]["probes"]["paused_run_ahead"]
    out["paused_ahead_claim_p50_vs_plain"] = (
        paused["across_runs"]["p50_ms"] / rows[large]["claim_across_runs"]["p50_ms"]
    )
    return out


def verdicts(summary: dict[str, Any]) -> dict[str, bool]:
    return {
        "claim_across_runs_p50_growth": summary["claim_across_runs_p50_ms_growth"]
        <= TARGET_CLAIM_GROWTH,
        "claim_run_scoped_p50_growth": summary["claim_run_scoped_p50_ms_growth"]
        <= TARGET_CLAIM_GROWTH,
    }


# --- tables ---------------------------------------------------------------------------


def _ms(value: float) -> str:
    if value >= 1_000:
        return f"{value / 1e3:.2f} s"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _pair(figures: dict[str, Any]) -> str:
    return f"{_ms(figures['p50_ms'])} / {_ms(figures['p99_ms'])}"


def _bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def claims_table(result: dict[str, Any]) -> Table:
    t = Table(title="Claims and throughput (latency in ms, p50 / p99)")
    for name in (
        "store",
        "tasks",
        "build s (tasks/s)",
        "claim, any run",
        "claim, in run",
        "raw seek p50",
        "raw find p50",
        "claim+submit /s",
        "Worker /s",
    ):
        t.add_column(name, justify="left" if name == "store" else "right")
    for store, got in result["stores"].items():
        if "error" in got:
            t.add_row(store, "-", f"[red]{got['error'][:60]}[/]", *[""] * 6)
            continue
        for size, r in got["sizes"].items():
            t.add_row(
                store,
                f"{int(size):,}",
                f"{r['build']['seconds']:,.0f} ({r['build']['tasks_per_s']:,.0f})",
                _pair(r["claim_across_runs"]),
                _pair(r["claim_run_scoped"]),
                _ms(r["raw_seek"]["p50_ms"]),
                _ms(r["raw_find_claimable"]["p50_ms"]),
                f"{r['lifecycle']['per_s']:,.0f}",
                f"{r['worker']['per_s']:,.0f}",
            )
        s = got["summary"]
        ok = got["pass"]

        def mark(key: str, value: float, ok: dict[str, bool] = ok) -> str:
            colour = "green" if ok[key] else "red"
            return f"[{colour}]{value:.2f}x[/]"

        t.add_row(
            store,
            f"{s['largest']:,} / {s['smallest']:,}",
            "",
            mark("claim_across_runs_p50_growth", s["claim_across_runs_p50_ms_growth"])
            + f" / {s['claim_across_runs_p99_ms_growth']:.2f}x",
            mark("claim_run_scoped_p50_growth", s["claim_run_scoped_p50_ms_growth"])
            + f" / {s['claim_run_scoped_p99_ms_growth']:.2f}x",
            "",
            f"{s['raw_find_claimable_p50_ms_growth']:.2f}x",
            f"{s['lifecycle_per_s_ratio']:.2f}x",
            f"{s['worker_per_s_ratio']:.2f}x",
            end_section=True,
        )
    t.caption = (
        "claim: Board.claim, released untimed (any run: no run_id; in run: run_id given); "
        "raw seek: the claim index's first entry; raw find: Baton's find_claimable query "
        "through the bare driver. Ratio rows: largest board / smallest; target claim p50 "
        f"<= {TARGET_CLAIM_GROWTH}x."
    )
    return t


def store_table(result: dict[str, Any]) -> Table:
    t = Table(title="Store size, open and resume, the event log, costs that grow")
    for name in (
        "store",
        "tasks",
        "per 1k tasks",
        "per 1k events",
        "store",
        "open ms",
        "resume s (leases)",
        "wd pass ms",
        "events /s streamed / kept (raw)",
        "replay ev/s",
        "add 100 s",
        "paused ahead p50",
    ):
        t.add_column(name, justify="left" if name == "store" else "right")
    for store, got in result["stores"].items():
        if "error" in got:
            continue
        for size, r in got["sizes"].items():
            disk, ev, res = r["disk_after_measuring"], r["events"], r["resume"]
            paused = r["probes"]["paused_run_ahead"]
            t.add_row(
                store,
                f"{int(size):,}",
                _bytes(disk["bytes_per_1000_tasks"]),
                _bytes(disk["bytes_per_1000_events"]),
                _bytes(disk["total_bytes"]),
                _ms(r["open"]["open_ms_median"]),
                f"{res['open_s'] + res['reap_s'] + res['first_claim_s']:.3f} ({res['leases']})",
                _ms(res["watchdog_pass_s"] * 1e3),
                f"{ev['board_events_streamed_per_s']:,.0f} / {ev['board_events_per_s']:,.0f}"
                f" ({ev['raw_events_per_s']:,.0f})",
                f"{ev['replay_events_per_s']:,.0f}",
                f"{r['probes']['add_tasks_100_s']:.3f}",
                f"{_ms(paused['across_runs']['p50_ms'])} ms (n={paused['across_runs']['n']})",
                end_section=size == list(got["sizes"])[-1],
            )
    t.caption = (
        "bytes: tables with their indexes (SQLite dbstat, PostgreSQL pg_total_relation_size) "
        "after measuring; resume: Board.open + reap_expired of a killed worker's expired "
        "leases + first claim; events /s: Board.events pages of 1,000 over the run's whole "
        "log, streamed (as baton events reads it) and kept in one list (for the replay; the "
        "garbage collector walks the growing list), raw: the same query, bare driver; "
        "paused ahead: claim with no run_id while "
        "the big run is paused and a small run is active."
    )
    return t


def growth_table(result: dict[str, Any]) -> Table:
    t = Table(title="Where cost grows with the run: Baton, its query raw, a candidate fix raw")
    for name in (
        "store",
        "tasks",
        "add_tasks(100) s",
        "list_tasks raw",
        "keyed raw",
        "paused ahead claim",
        "find as is",
        "per active run",
        "paused out of index",
        "wd pass",
        "watched as is",
        "watched + index",
    ):
        t.add_column(name, justify="left" if name == "store" else "right")
    for store, got in result["stores"].items():
        if "error" in got:
            continue
        for size, r in got["sizes"].items():
            p = r["probes"]
            reads, paused, watched = p["add_tasks_reads"], p["paused_run_ahead"], p["watched_tasks"]
            ex = paused.get("raw", {})

            def cell(figures: dict[str, Any] | None) -> str:
                return _ms(figures["p50_ms"]) if figures else "-"

            out = ex.get("paused_tasks_out_of_index")
            t.add_row(
                store,
                f"{int(size):,}",
                f"{p['add_tasks_100_s']:.3f}",
                cell(reads["list_tasks"]),
                cell(reads["keyed_lookup"]),
                cell(paused["across_runs"]),
                cell(ex.get("as_is")),
                cell(ex.get("per_active_run")),
                f"{cell(out)} (park {out['park_s']:.1f} s)" if out else "-",
                _ms(r["resume"]["watchdog_pass_s"] * 1e3),
                cell(watched.get("as_is")),
                cell(watched.get("with_index")),
                end_section=size == list(got["sizes"])[-1],
            )
    t.caption = (
        "ms, p50 unless marked s. list_tasks: the read add_tasks does first (the whole run); "
        "keyed: a primary-key lookup of the 100 ids instead. Paused ahead: Board.claim with "
        "no run_id, the big run paused, a 50-task run active; find as is: Baton's "
        "find_claimable raw; per active run: one claim-index descent per active run; out of "
        "index: the paused run's queue_role NULL (park: the one UPDATE a pause would pay). "
        "wd pass: one watchdog pass; watched: its watched_tasks query, as is and with a "
        "partial index of blocked / reviewed open tasks."
    )
    return t


# --- the run --------------------------------------------------------------------------


def measure(store: str, plan: run.Plan, scratch: str | None) -> dict[str, Any]:
    if store == "sqlite":
        home = stores.SqliteHome(scratch)
        try:
            got = run.measure_store(home, plan)
            got["settings"] = {"scratch": str(home.dir), **run.sqlite_settings(home)}
            return got
        finally:
            home.close()
    with stores.PgServer() as server:
        got = run.measure_store(server, plan)
        got["settings"] = server.settings()
        return got


def src_state() -> dict[str, Any]:
    """The code measured: the commit, and the files under src/ changed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "HEAD"), "src_changed": changed.splitlines()}


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    disk = shutil.disk_usage(ROOT)
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "disk_free_gb_after": round(disk.free / 1e9, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="boards of 1k and 10k tasks")
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="e.g. 1k,100k,1M")
    parser.add_argument(
        "--stores", type=parse_stores, default=STORES, help="sqlite,postgres (default: both)"
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="write the figures here")
    parser.add_argument("--dir", default=None, help="where the SQLite files go (default: tmp)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.sizes:
        plan = replace(plan, sizes=args.sizes)
    began = time.monotonic()
    load_before = os.getloadavg()
    err.print(f"scale benchmark: sizes {', '.join(f'{s:,}' for s in plan.sizes)}")
    result: dict[str, Any] = {
        "date": DATE,
        "command": " ".join(["bench/scale.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "code": src_state(),
        "stores": {},
    }
    for store in args.stores:
        started = time.monotonic()
        try:
            got = measure(store, plan, args.dir)
        except Exception as failed:  # one store failing must not lose the other's figures
            err.print(f"[red]{store} failed:[/] {type(failed).__name__}: {failed}")
            result["stores"][store] = {"error": f"{type(failed).__name__}: {failed}"}
            continue
        got["summary"] = summarise(got["sizes"], plan.sizes)
        got["pass"] = verdicts(got["summary"])
        got["elapsed_s"] = round(time.monotonic() - started, 1)
        result["stores"][store] = got
        if args.json:  # written after every store: a later failure keeps these
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    result["targets"] = {"claim_p50_growth_largest_vs_smallest": TARGET_CLAIM_GROWTH}
    result["method"] = {**run.METHOD, "plan": asdict(plan)}
    result["machine"] = machine(load_before)
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    out = Console(width=max(Console().width, 150))
    out.print(claims_table(result))
    out.print(store_table(result))
    out.print(growth_table(result))
    err.print(f"elapsed {result['elapsed_s']}s")
    failed = [s for s, got in result["stores"].items() if "error" in got]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
