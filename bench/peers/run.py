"""The peer benchmark's runner: the same workloads, no-op work, on Baton and its peers.

    make bench-peers                                  # installs the peers' venv, full run
    bench/peers/.venv/bin/python bench/peers/run.py --quick
    bench/peers/.venv/bin/python bench/peers/run.py --systems baton-worker-pg,celery \\
        --workloads fanout --workers 4 --json out.json --plot out.png

Order: for each repetition, for each durability setting (durable first, then fast for
``--fast-workers`` only), for each worker count, every system in turn — rotated by
one place each repetition (A B C, B C A, C A B) so that no system always runs first or
last on a warm or a tired machine. A *session* (one system, one worker count) starts
the system's processes once and runs every workload on them, each under its own run id
and in an order also rotated per repetition. After the measurements, one SIGKILL
scenario per system (durable, ``--kill-workers`` workers): kill -9 one worker halfway
through the fan-out, let the rest finish, and count each task's executions.

To fit a time budget: ``--slow`` systems run only durable at ``--headline-workers``;
with ``--side-reps N`` the other worker counts and the fast setting run only in the
first N repetitions; ``--reps-of SYSTEM=N`` caps one system's repetitions.

Figures are medians over the repetitions with min-max; the headline is each system's
throughput over the best *peer*'s (non-Baton) in the same repetition, paired.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import adapter
import measure
import report
import servers
import sys_baton
import sys_celery
import sys_dbos
import sys_langgraph
import sys_procrastinate
import sys_temporal
import tasks
from rich.console import Console

DATE = "2026-12-04"
err = Console(stderr=True, highlight=False, width=200)

SYSTEMS: dict[str, type[adapter.Adapter]] = {
    a.name: a
    for a in (
        *sys_baton.ADAPTERS,
        sys_procrastinate.Procrastinate,
        sys_celery.Celery,
        *sys_dbos.ADAPTERS,
        sys_langgraph.LangGraph,
        sys_temporal.Temporal,
    )
}
FULL = {"fanout": "fanout:2000", "chain": "chain:300", "dag": "dag:2000:50"}
FULL["dagfail"] = "dagfail:2000:50"
QUICK = {"fanout": "fanout:300", "chain": "chain:40", "dag": "dag:300:50"}
QUICK["dagfail"] = "dagfail:300:50"
KILL_FULL, KILL_QUICK = "fanout:2000", "fanout:1000"  # the SIGKILL scenario's fan-out


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 repetition, small sizes")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick 1)")
    ap.add_argument("--systems", default="", help=f"comma list of {', '.join(SYSTEMS)}")
    ap.add_argument("--workloads", default="", help="comma list of fanout, chain, dag, dagfail")
    ap.add_argument("--workers", default="", help="comma list of worker counts (default 1,4,16)")
    ap.add_argument("--fast-workers", default="4", help="worker counts run fast too ('' none)")
    ap.add_argument("--kill-workers", type=int, default=4, help="workers in the SIGKILL test")
    ap.add_argument("--no-kill", action="store_true", help="skip the SIGKILL scenario")
    ap.add_argument(
        "--headline-workers", type=int, default=4, help="the worker count every system runs"
    )
    ap.add_argument(
        "--slow", default="", help="systems run only durable at --headline-workers (comma list)"
    )
    ap.add_argument(
        "--side-reps",
        type=int,
        default=0,
        help="other worker counts and the fast setting only in the first N reps (0: all)",
    )
    ap.add_argument(
        "--reps-of", default="", help="a system's own repetition cap: SYSTEM=N,... (e.g. x=1)"
    )
    ap.add_argument("--timeout", type=float, default=None, help="per workload (s)")
    ap.add_argument("--json", default="", help="write the figures here")
    ap.add_argument("--plot", default="", help="write the throughput plot (PNG) here")
    ap.add_argument(
        "--baton-src",
        default="head",
        help="Baton to import: 'head' (a snapshot of src/ at HEAD), 'worktree', or a path",
    )
    return ap.parse_args()


def listed(text: str, allowed: list[str]) -> list[str]:
    if not text:
        return allowed
    got = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in got if x not in allowed]
    if bad:
        adapter.die(f"unknown: {bad}; choose from {allowed}")
    return got


def baton_snapshot(choice: str, tmp: Path) -> tuple[str, str]:
    """(the directory to put on PYTHONPATH or "", a description)."""
    head = subprocess.run(
        ["git", "-C", str(adapter.ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if choice == "worktree":
        return "", f"work tree at {head} (uncommitted edits included)"
    if choice != "head":
        return choice, f"src from {choice}"
    dest = tmp / "baton-head"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(adapter.ROOT), "archive", "HEAD", "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return str(dest / "src"), f"src/ at HEAD {head} (git archive)"


@dataclass
class Live:
    """A session's running system: its adapter, scratch directory, records, database."""

    a: adapter.Adapter
    workdir: Path
    rec: measure.Records
    db: str = ""


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.reps = args.reps or (1 if args.quick else 3)
        self.systems = listed(args.systems, list(SYSTEMS))
        names = list(FULL)
        self.workloads = listed(args.workloads, names)
        self.specs = QUICK if args.quick else FULL
        self.workers = [int(x) for x in (args.workers or "1,4,16").split(",")]
        self.fast_workers = [int(x) for x in args.fast_workers.split(",") if x.strip()]
        self.fast_workers = [w for w in self.fast_workers if w in self.workers] or (
            self.fast_workers[:1] if self.fast_workers else []
        )
        self.headline = args.headline_workers
        self.slow = listed(args.slow, list(SYSTEMS)) if args.slow else []
        self.side_reps = args.side_reps or self.reps
        self.reps_of: dict[str, int] = {}
        for item in (x for x in args.reps_of.split(",") if x.strip()):
            name, _, n = item.partition("=")
            self.reps_of[listed(name.strip(), list(SYSTEMS))[0]] = int(n)
        self.timeout = args.timeout or (40.0 if args.quick else 90.0)
        self.stall = 25.0  # longer than Baton's 10 s lease, for the retried tasks
        self.tmp = Path(tempfile.mkdtemp(prefix="peers-"))
        self.pg: servers.Postgres | None = None
        self.redis: servers.Redis | None = None
        self.temporal: servers.Temporal | None = None
        self.figures: list[measure.RunFigures] = []
        self.kills: list[dict[str, Any]] = []
        self.unavailable: dict[str, str] = {}
        self.baton_src, self.baton_desc = baton_snapshot(args.baton_src, self.tmp)

    # --- servers -------------------------------------------------------------------

    def start_servers(self) -> None:
        need = {SYSTEMS[s].server for s in self.systems}
        if "pg" in need:
            self.pg = servers.Postgres()
        if "redis" in need:
            self.redis = servers.Redis()
        if "temporal" in need:
            try:
                self.temporal = servers.Temporal()
            except RuntimeError as exc:
                self.unavailable["temporal"] = str(exc)
                self.systems = [s for s in self.systems if SYSTEMS[s].server != "temporal"]

    def set_durable(self, durable: bool) -> None:
        for srv in (self.pg, self.redis):
            if srv is not None:
                srv.set_durable(durable)
        if self.temporal is not None:
            try:
                self.temporal.set_durable(durable)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                self.unavailable["temporal"] = f"the dev server did not start: {exc}"
                self.systems = [s for s in self.systems if SYSTEMS[s].server != "temporal"]
                self.temporal.stop()
                self.temporal = None

    def stop_servers(self) -> None:
        for srv in (self.pg, self.redis, self.temporal):
            if srv is not None:
                try:
                    srv.stop()
                except Exception as exc:  # stopping: report, carry on
                    err.print(f"[yellow]stopping a server: {exc}[/]")

    def server_of(self, system: str) -> Any:
        return {"pg": self.pg, "redis": self.redis, "temporal": self.temporal}.get(
            SYSTEMS[system].server or ""
        )

    # --- a session -----------------------------------------------------------------

    def _start(self, system: str, n: int, durable: bool, rep: int) -> Live:
        """A fresh store (database, flushed Redis, new files) and the system's processes."""
        cls = SYSTEMS[system]
        tag = f"{system}-{n}-{'d' if durable else 'f'}-{rep}-{uuid.uuid4().hex[:4]}"
        workdir = self.tmp / tag
        records = workdir / "rec"
        records.mkdir(parents=True)
        ctx = adapter.Ctx(durable, workdir, records, baton_src=self.baton_src)
        live = Live(cls(), workdir, measure.Records(records))
        if cls.server == "pg":
            assert self.pg is not None
            live.db = self.pg.create()
            ctx.pg_url = self.pg.url(live.db)
        if cls.server == "redis":
            assert self.redis is not None
            self.redis.flush()
            ctx.redis_url = self.redis.url
        if cls.server == "temporal":
            assert self.temporal is not None
            ctx.temporal_addr = self.temporal.addr
        try:
            live.a.open(ctx, n)
        except BaseException:
            self._end(live, keep=True)
            raise
        return live

    def _end(self, live: Live, keep: bool) -> None:
        """Stop the processes, drop the store; ``keep``: copy the logs for a look."""
        try:
            live.a.close()
        finally:
            if keep:
                dest = self.tmp.parent / f"peers-failed-{live.workdir.name}"
                shutil.copytree(
                    live.workdir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.rec")
                )
                err.print(f"  logs kept in {dest}")
            if live.db and self.pg is not None:
                self.pg.drop(live.db)
            shutil.rmtree(live.workdir, ignore_errors=True)

    def session(self, system: str, n: int, durable: bool, rep: int, kill: bool = False) -> None:
        """One system with ``n`` workers: every workload (rotated order) on the same
        processes. A workload that times out leaves work behind, so the session is
        restarted on a fresh store before the next one."""
        srv = self.server_of(system)
        live: Live | None = None
        try:
            live = self._start(system, n, durable, rep)
            if kill:
                self.kill_run(live.a, live.rec, n)
                return
            for wl in report.rotate(self.workloads, rep):
                if live is None:
                    live = self._start(system, n, durable, rep)
                fig = self.one(live.a, srv, live.rec, system, wl, n, durable, rep)
                self.figures.append(fig)
                if fig.timed_out or fig.done < fig.tasks:
                    done, live = live, None
                    self._end(done, keep=True)
        except Exception as exc:  # one system failing must not end the run
            err.print(f"[red]{system} ({n} workers): {exc}[/]")
            self.figures.append(
                measure.RunFigures(
                    system=system,
                    workload="*",
                    workers=n,
                    durable=durable,
                    rep=rep,
                    tasks=0,
                    done=0,
                    timed_out=True,
                    tasks_per_s=0.0,
                    wall_s=0.0,
                    enqueue_s=0.0,
                    extra={"error": str(exc)[-2000:]},
                )
            )
            if live is not None:
                done, live = live, None
                self._end(done, keep=True)
        finally:
            if live is not None:
                self._end(live, keep=False)

    def one(
        self,
        a: adapter.Adapter,
        srv: Any,
        rec: measure.Records,
        system: str,
        wl: str,
        n: int,
        durable: bool,
        rep: int,
    ) -> measure.RunFigures:
        spec = self.specs[wl]
        size = len(tasks.graph(spec).ids)
        run = f"r{uuid.uuid4().hex[:10]}"
        srv0 = srv.cpu() if srv is not None else None
        cl0 = measure.tree_cpu(a.pids())
        server_pids = [srv.pid] if srv is not None else []
        with measure.RssSampler(lambda: a.pids() + server_pids) as rss:
            reply = a.submit(run, spec)
            ok = measure.wait_for(rec, run, size, self.timeout, self.stall)
        cl1 = measure.tree_cpu(a.pids())
        srv1 = srv.cpu() if srv is not None else None
        rec.poll()
        f = measure.figures_of(rec, run, spec)
        done = max(1, f["done"])
        fig = measure.RunFigures(
            system=system,
            workload=wl,
            workers=n,
            durable=durable,
            rep=rep,
            tasks=size,
            done=f["done"],
            timed_out=not ok,
            tasks_per_s=f["tasks_per_s"],
            wall_s=f["wall_s"],
            enqueue_s=float(reply.get("enqueue_s", 0.0)),
            handoff_ms=f["handoff_ms"],
            executions=f["executions"],
            failed_attempts=f["failed_attempts"],
            duplicated=f["duplicated"],
            server_cpu_ms_per_task=None if srv0 is None else (srv1 - srv0) * 1e3 / done,
            client_cpu_ms_per_task=(cl1 - cl0) * 1e3 / done,
            peak_rss_mb=rss.peak / 2**20,
        )
        hand = fig.handoff_ms
        err.print(
            f"  {'durable' if durable else 'fast'} rep {rep} {system:22} {wl:8} {n:2}w "
            f"{fig.tasks_per_s:8.0f}/s done {fig.done}/{size}"
            + (f" hand-off p50 {hand['p50']:.1f} ms" if hand else "")
            + (" [red]TIMEOUT[/]" if fig.timed_out else "")
        )
        return fig

    def kill_run(self, a: adapter.Adapter, rec: measure.Records, n: int) -> None:
        spec = KILL_QUICK if self.quick else KILL_FULL
        size = len(tasks.graph(spec).ids)
        run = f"k{uuid.uuid4().hex[:10]}"
        a.submit(run, spec)
        measure.wait_for(rec, run, size // 2, self.timeout, self.stall)
        rec.poll()
        at = rec.done(run)
        pid = a.kill9()
        t_kill = time.monotonic()
        phase = "survivors"
        ok = measure.wait_for(rec, run, size, self.timeout + 60, self.stall)
        t_done = time.monotonic() - t_kill
        if not ok:
            phase = "after restarting the killed worker"
            a.restart_killed()
            a.after_kill()
            ok = measure.wait_for(rec, run, size, self.timeout + 60, self.stall)
            t_done = time.monotonic() - t_kill
        rec.poll()
        verdict = measure.kill_verdict(rec, run, spec)
        if at >= size:
            outcome = "not tested (the run ended before the kill)"
        elif verdict["lost"]:
            outcome = "lost"
        elif verdict["more_than_once"]:
            outcome = "at least once"
        else:
            outcome = "exactly once"
        entry = {
            "system": a.name,
            "workers": n,
            "tasks": size,
            "killed_pid": pid,
            "done_at_kill": at,
            "finished": ok,
            "finished_by": phase if ok else "never (within the timeout)",
            "seconds_after_kill": round(t_done, 2),
            "outcome": outcome,
            "recovery": a.recovery,
            **verdict,
        }
        self.kills.append(entry)
        err.print(f"  SIGKILL {a.name}: {outcome} {verdict} ({entry['finished_by']})")

    def skipped(self, system: str, n: int, durable: bool, rep: int) -> bool:
        """Cut from the matrix by --slow or --reps-of (the time budget)."""
        if system in self.slow and (not durable or n != self.headline):
            return True
        return rep >= self.reps_of.get(system, self.reps)

    # --- the whole run -------------------------------------------------------------

    def main(self) -> int:
        started = time.monotonic()
        self.start_servers()
        try:
            for rep in range(self.reps):
                for durable in (True, False):
                    counts = self.workers if durable else self.fast_workers
                    if rep >= self.side_reps:
                        counts = [n for n in counts if durable and n == self.headline]
                    if not counts:
                        continue
                    self.set_durable(durable)
                    for n in counts:
                        for system in report.rotate(self.systems, rep):
                            if self.skipped(system, n, durable, rep):
                                continue
                            self.session(system, n, durable, rep)
            if not self.args.no_kill:
                self.set_durable(True)
                for system in self.systems:
                    self.session(system, self.args.kill_workers, True, 0, kill=True)
            pg_settings = {}
            if self.pg is not None:
                self.set_durable(True)
                pg_settings["durable"] = self.pg.settings()
                self.pg.set_durable(False)
                pg_settings["fast"] = self.pg.settings()
        finally:
            self.stop_servers()
            shutil.rmtree(self.tmp, ignore_errors=True)
        elapsed = time.monotonic() - started
        summary = report.summarise(self.figures, self.systems)
        out = {
            "date": DATE,
            "command": " ".join(sys.argv),
            "elapsed_s": round(elapsed, 1),
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "baton": self.baton_desc,
            "config": {
                "quick": self.quick,
                "reps": self.reps,
                "workloads": {w: self.specs[w] for w in self.workloads},
                "workers": self.workers,
                "fast_workers": self.fast_workers,
                "headline_workers": self.headline,
                "slow": self.slow,
                "side_reps": self.side_reps,
                "reps_of": self.reps_of,
                "timeout_s": self.timeout,
                "stall_s": self.stall,
            },
            "postgres": pg_settings,
            "systems": {s: report.describe(SYSTEMS[s]) for s in self.systems},
            "not_measured": {**self.unavailable, **report.NOT_MEASURED},
            "versions": report.versions(),
            "summary": summary,
            "sigkill": self.kills,
            "runs": [asdict(f) for f in self.figures],
        }
        report.print_tables(summary, self.kills, out)
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
            err.print(f"wrote {self.args.json}")
        if self.args.plot:
            report.plot(summary, self.args.plot, self.quick)
            err.print(f"wrote {self.args.plot}")
        err.print(f"took {elapsed:.0f} s")
        return 0


if __name__ == "__main__":
    sys.exit(Bench(parse()).main())
