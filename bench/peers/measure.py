"""What is measured, the same way for every system: from the record lines the tasks
wrote (tasks.execute), the server's own CPU counters, and the processes' RSS.

* throughput: tasks / (last successful end - first start), so that process start-up,
  imports and connecting are never counted, and neither is the enqueueing before the
  first task starts (which overlaps the run for the queues that are fed task by task);
* hand-off: for every task with dependencies, its first start - the latest successful
  end among its dependencies (one task done -> its dependent started), through
  whatever the system does in between (acknowledging, releasing, polling, waking);
* server CPU per task: the server's CPU seconds over the run / tasks. PostgreSQL: the
  postmaster's ``utime+stime+cutime+cstime`` (``cutime`` holds every backend that has
  exited, as the postmaster reaps them) plus ``utime+stime`` of its live children,
  from ``/proc``. Redis: ``INFO cpu`` (``used_cpu_sys + used_cpu_user``). Temporal's
  dev server: ``/proc`` of its one process (threads included). Embedded stores have
  no server: their work is in the workers' CPU, reported too;
* peak memory: the peak, over 0.2 s samples, of the summed RSS of the worker
  processes, the control, their children, and the server with its children.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import tasks

TICK = os.sysconf("SC_CLK_TCK")


class Records:
    """The record lines of a session, read incrementally (each file from where the
    last read stopped)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.offsets: dict[Path, int] = {}
        self.partial: dict[Path, bytes] = {}
        # run -> task -> list of (status, start, end)
        self.by_run: dict[str, dict[str, list[tuple[str, float, float]]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def poll(self) -> None:
        for path in self.root.glob("*.rec"):
            off = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(off)
                data = self.partial.pop(path, b"") + f.read()
                self.offsets[path] = f.tell()
            lines = data.split(b"\n")
            if lines[-1]:
                self.partial[path] = lines[-1]  # half a line: read it next time
            for line in lines[:-1]:
                run, task, status, t0, t1 = line.decode().split()
                self.by_run[run][task].append((status, float(t0), float(t1)))

    def done(self, run: str) -> int:
        return sum(1 for ex in self.by_run[run].values() if any(s == "ok" for s, *_ in ex))


def cpu_of(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pg_cpu(postmaster: int) -> float:
    """The cluster's CPU seconds so far: the postmaster, every backend it has reaped,
    and its live children."""
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
    kids = psutil.Process(postmaster).children()
    return own + sum(cpu_of(k.pid) for k in kids)


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds of processes and their live children (the workers' side)."""
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            continue
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


class RssSampler:
    """The peak summed RSS of the processes ``pids()`` names and their children."""

    def __init__(self, pids: Callable[[], list[int]], every_s: float = 0.2) -> None:
        self.pids, self.every_s = pids, every_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.every_s)

    def sample(self) -> int:
        seen: set[int] = set()
        total = 0
        for pid in self.pids():
            try:
                p = psutil.Process(pid)
                procs = [p, *p.children(recursive=True)]
            except psutil.Error:
                continue
            for q in procs:
                if q.pid in seen:
                    continue
                seen.add(q.pid)
                with contextlib.suppress(psutil.Error):
                    total += q.memory_info().rss
        return total

    def __enter__(self) -> RssSampler:
        self.peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())


@dataclass
class RunFigures:
    """One workload on one system with one worker count, once."""

    system: str
    workload: str
    workers: int
    durable: bool
    rep: int
    tasks: int
    done: int
    timed_out: bool
    tasks_per_s: float
    wall_s: float
    enqueue_s: float
    handoff_ms: dict[str, float] = field(default_factory=dict)  # p50, p99, n
    executions: int = 0
    failed_attempts: int = 0
    duplicated: int = 0  # tasks with more than one successful execution
    server_cpu_ms_per_task: float | None = None
    client_cpu_ms_per_task: float | None = None
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


def figures_of(records: Records, run: str, spec: str) -> dict[str, Any]:
    """Throughput, hand-off and execution counts of one run, from its records."""
    g = tasks.graph(spec)
    ex = records.by_run.get(run, {})
    starts = [t0 for runs in ex.values() for _s, t0, _t1 in runs]
    ok_end: dict[str, float] = {}
    first_start: dict[str, float] = {}
    dup = 0
    fails = 0
    for t, runs in ex.items():
        oks = [t1 for s, _t0, t1 in runs if s == "ok"]
        fails += sum(1 for s, *_ in runs if s == "fail")
        if oks:
            ok_end[t] = min(oks)
        dup += max(0, len(oks) - 1)
        first_start[t] = min(t0 for _s, t0, _t1 in runs)
    hand = []
    for t in g.ids:
        if g.deps[t] and t in first_start and all(d in ok_end for d in g.deps[t]):
            hand.append((first_start[t] - max(ok_end[d] for d in g.deps[t])) * 1e3)
    wall = (max(ok_end.values()) - min(starts)) if ok_end else float("nan")
    return {
        "done": len(ok_end),
        "wall_s": wall,
        "tasks_per_s": len(ok_end) / wall if ok_end and wall > 0 else 0.0,
        "executions": sum(len(r) for r in ex.values()),
        "failed_attempts": fails,
        "duplicated": dup,
        "handoff_ms": (
            {"p50": pct(hand, 0.5), "p99": pct(hand, 0.99), "n": len(hand)} if hand else {}
        ),
    }


def kill_verdict(records: Records, run: str, spec: str) -> dict[str, Any]:
    """Each task's successful executions after a SIGKILL: exactly once, more, or none."""
    g = tasks.graph(spec)
    ex = records.by_run.get(run, {})
    counts = [sum(1 for s, *_ in ex.get(t, []) if s == "ok") for t in g.ids]
    return {
        "exactly_once": sum(1 for c in counts if c == 1),
        "more_than_once": sum(1 for c in counts if c > 1),
        "lost": sum(1 for c in counts if c == 0),
        "extra_executions": sum(c - 1 for c in counts if c > 1),
    }


def median_range(xs: list[float]) -> tuple[float, float, float]:
    xs = [x for x in xs if x == x]  # drop NaN
    if not xs:
        return (float("nan"),) * 3
    return statistics.median(xs), min(xs), max(xs)


def wait_for(records: Records, run: str, want: int, timeout_s: float, stall_s: float) -> bool:
    """Poll until ``want`` tasks of ``run`` are done (True), or ``timeout_s`` passes, or
    nothing new finished for ``stall_s`` (False)."""
    start = last_change = time.monotonic()
    last = -1
    while True:
        records.poll()
        got = records.done(run)
        now = time.monotonic()
        if got >= want:
            return True
        if got != last:
            last, last_change = got, now
        if now - start > timeout_s or now - last_change > stall_s:
            return False
        time.sleep(0.02)
