"""The workloads and the no-op task every system runs: standard library only.

This module is imported by every process of the peer benchmark — the runner (peers
venv), Baton's processes (the project's venv) and every peer's workers — so it must not
import anything outside the standard library. A workload is named by a *spec* string
(``fanout:2000``, ``chain:300``, ``dag:2000:50``, ``dagfail:2000:50``) from which every
process rebuilds the same graph deterministically: the graph never travels with the
tasks, only its spec and a task id do.

What a task does (:func:`execute`) is the same everywhere: note its start time, fail
on its first attempt if it is one of the failing 1 % (a marker file created with
``O_EXCL`` says whether this is the first attempt, whatever the system's own attempt
counter), and append one line to this process's record file. The runner reads those
lines to count executions and to time hand-offs; the systems' own bookkeeping is never
trusted for that.
"""

from __future__ import annotations

import functools
import os
import random
import time
from dataclasses import dataclass

FAIL_EVERY = 100  # dagfail: one task in FAIL_EVERY fails its first attempt
FAIL_AT = 50  # ... the ones whose index % FAIL_EVERY == FAIL_AT (never a root)
ROLE = "peer"


@dataclass(frozen=True)
class Graph:
    """A workload: task ids in topological order, each one's dependencies and
    dependents, and the tasks that fail once."""

    spec: str
    ids: tuple[str, ...]
    deps: dict[str, tuple[str, ...]]
    children: dict[str, tuple[str, ...]]
    failing: frozenset[str]

    @property
    def roots(self) -> list[str]:
        return [t for t in self.ids if not self.deps[t]]


class FailedOnce(RuntimeError):
    """Raised by a task that is one of the failing 1 %, on its first attempt."""


def tid(i: int) -> str:
    return f"t{i:05d}"


@functools.lru_cache(maxsize=64)
def graph(spec: str) -> Graph:
    """The graph named by ``spec``. ``dag:N:W``: layers of W tasks; every task of a
    layer but the first depends on one or two tasks of the layer before (chosen with a
    seeded RNG, so every process builds the same graph). ``dagfail``: the same DAG
    with one task in 100 failing its first attempt (then retried by the system)."""
    kind, *nums = spec.split(":")
    n = int(nums[0])
    ids = tuple(tid(i) for i in range(n))
    deps: dict[str, tuple[str, ...]] = {}
    if kind == "fanout":
        deps = {t: () for t in ids}
    elif kind == "chain":
        deps = {t: (ids[i - 1],) if i else () for i, t in enumerate(ids)}
    elif kind in ("dag", "dagfail"):
        width = int(nums[1])
        rng = random.Random(f"{n}:{width}")
        for i, t in enumerate(ids):
            layer, _pos = divmod(i, width)
            if layer == 0:
                deps[t] = ()
                continue
            prev = ids[(layer - 1) * width : layer * width]
            k = 1 if rng.random() < 0.5 else 2
            deps[t] = tuple(sorted(rng.sample(prev, k)))
    else:
        raise ValueError(f"unknown workload {spec!r}")
    children: dict[str, list[str]] = {t: [] for t in ids}
    for t, ds in deps.items():
        for d in ds:
            children[d].append(t)
    failing = frozenset(
        t for i, t in enumerate(ids) if kind == "dagfail" and i % FAIL_EVERY == FAIL_AT
    )
    return Graph(spec, ids, deps, {t: tuple(c) for t, c in children.items()}, failing)


# --- the record of executions --------------------------------------------------------

_fd: dict[int, int] = {}


def _records() -> str:
    return os.environ["PEERS_RECORDS"]


def _out() -> int:
    """This process's record file, opened once (``O_APPEND``: each line one write)."""
    pid = os.getpid()
    if pid not in _fd:  # a forked child (Celery's pool) opens its own
        path = os.path.join(_records(), f"{pid}.rec")
        _fd[pid] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    return _fd[pid]


def first_attempt(run: str, task: str) -> bool:
    """True exactly once per (run, task), across every process: the marker file's
    ``O_EXCL`` creation is atomic."""
    path = os.path.join(_records(), "markers", f"{run}.{task}")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    return True


def execute(run: str, task: str, fail: bool = False) -> None:
    """The no-op work: record one execution (``ok``, or ``fail`` for the failing 1 %'s
    first attempt, which then raises :class:`FailedOnce`). The line is written before
    the system learns the outcome, so a crash after it counts as executed."""
    t0 = time.monotonic()
    if fail and first_attempt(run, task):
        os.write(_out(), f"{run} {task} fail {t0:.6f} {time.monotonic():.6f}\n".encode())
        raise FailedOnce(f"{task} fails its first attempt (benchmark)")
    os.write(_out(), f"{run} {task} ok {t0:.6f} {time.monotonic():.6f}\n".encode())


def ready() -> None:
    """Say this worker process is connected and serving (the runner waits for it)."""
    path = os.path.join(_records(), f"ready-{os.getpid()}")
    with open(path, "w") as f:
        f.write(str(time.monotonic()))
