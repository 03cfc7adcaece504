"""What the runner knows of a system: the base class every adapter module extends.

An adapter is the runner's side of one system. It never imports the system: it starts
the system's processes (its *workers*, and one *control* process that puts work in),
with the interpreter of the venv the system is installed in, and talks to the control
over :mod:`control`'s line protocol. What an adapter defines is only what differs
between systems: the commands that start a worker and the control, what a session
needs created first (a database, a schema), which process a SIGKILL should hit, and
what "restart the killed worker" means for it.

A *session* is one system with one number of workers: workers are started once, every
workload of the session runs on them (each under its own run id), then they stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_PY = str(HERE / ".venv" / "bin" / "python")
BATON_PY = str(ROOT / ".venv" / "bin" / "python")


@dataclass
class Ctx:
    """What a session gets from the runner."""

    durable: bool
    workdir: Path  # this session's scratch directory
    records: Path  # where its processes write their record lines
    pg_url: str = ""  # a fresh database of its own, when the system uses PostgreSQL
    redis_url: str = ""
    temporal_addr: str = ""
    baton_src: str = ""  # a snapshot of Baton's src/ to import, or "" for the work tree
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """The common part: processes, the control, readiness, SIGKILL."""

    name = "?"
    server: str | None = None  # "pg" | "redis" | "temporal" | None (embedded)
    python = PEERS_PY
    #: what "N workers" means for this system (reported with its figures)
    workers_mean = "N worker processes, one task at a time each"
    #: what recovers a killed worker's task (reported with the SIGKILL result)
    recovery = ""
    #: settings that make it durable (reported)
    durability_note = ""

    def __init__(self) -> None:
        self.ctx: Ctx | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.control: subprocess.Popen[str] | None = None
        self.killed: list[int] = []
        self.n = 0
        self.last = ("", "")  # the last (run, spec) submitted
        self._logs: list[IO[bytes]] = []

    # --- what an adapter overrides ---------------------------------------------------

    def prepare(self, ctx: Ctx) -> None:
        """Create what a session needs before any process starts (schema, files)."""

    def worker_cmds(self, n: int) -> list[list[str]]:
        """One command per worker process to start."""
        raise NotImplementedError

    def control_cmd(self) -> list[str]:
        raise NotImplementedError

    def expected_ready(self, n: int) -> int:
        """How many ``ready-<pid>`` files mean every worker is serving."""
        return n

    def kill_target(self) -> int:
        """The pid a SIGKILL mid-run hits: one worker process."""
        return self.procs[0].pid

    def restart_killed(self) -> None:
        """What a supervisor would do for the killed worker: start it again."""
        cmd = self.worker_cmds(self.n)[0]
        self.procs[0] = self._spawn(cmd, "worker-0-restarted")

    # --- the common part -------------------------------------------------------------

    def env(self) -> dict[str, str]:
        ctx = self.ctx
        assert ctx is not None
        env = {
            **os.environ,
            "PEERS_RECORDS": str(ctx.records),
            "PEERS_PG_URL": ctx.pg_url,
            "PEERS_REDIS_URL": ctx.redis_url,
            "PEERS_TEMPORAL": ctx.temporal_addr,
            "PEERS_DURABLE": "1" if ctx.durable else "0",
            "PEERS_WORKDIR": str(ctx.workdir),
            "PYTHONPATH": str(HERE),
            "PYTHONUNBUFFERED": "1",
        }
        return env

    def _spawn(self, cmd: list[str], label: str) -> subprocess.Popen[bytes]:
        assert self.ctx is not None
        log = open(self.ctx.workdir / f"{label}.log", "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        return subprocess.Popen(
            cmd, env=self.env(), cwd=str(HERE), stdout=log, stderr=log, start_new_session=True
        )

    def open(self, ctx: Ctx, n: int) -> None:
        """Prepare, start the control and ``n`` workers, wait until all serve."""
        self.ctx, self.n = ctx, n
        (ctx.records / "markers").mkdir(parents=True, exist_ok=True)
        self.prepare(ctx)
        log = open(ctx.workdir / "control.log", "a")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)  # type: ignore[arg-type]
        self.control = subprocess.Popen(
            self.control_cmd(),
            env=self.env(),
            cwd=str(HERE),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        self._reply(timeout_s=120)  # the control's "ready"
        self.procs = [self._spawn(c, f"worker-{i}") for i, c in enumerate(self.worker_cmds(n))]
        self.wait_ready(self.expected_ready(n))

    def wait_ready(self, want: int, timeout_s: float = 120.0) -> None:
        assert self.ctx is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = len(list(self.ctx.records.glob("ready-*")))
            if got >= want:
                return
            dead = [p.returncode for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{self.name}: a worker exited at start ({dead}); see logs")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: only {got} of {want} workers ready")

    def call(self, op: str, timeout_s: float = 300.0, **args: Any) -> dict[str, Any]:
        """One request to the control process; its reply."""
        assert self.control is not None and self.control.stdin is not None
        self.control.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.control.stdin.flush()
        return self._reply(timeout_s)

    def _reply(self, timeout_s: float) -> dict[str, Any]:
        assert self.control is not None and self.control.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.control.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise RuntimeError(f"{self.name}: the control did not answer in {timeout_s}s")
        line = self.control.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the control exited (see control.log)")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.name}: {reply.get('error')}")
        return reply

    def submit(self, run: str, spec: str) -> dict[str, Any]:
        """Put a workload in (the roots, or the whole run); returns the control's reply."""
        self.last = (run, spec)
        return self.call("submit", run=run, spec=spec)

    def after_kill(self) -> None:
        """Anything besides a restart that the system's docs say recovers lost work."""

    def pids(self) -> list[int]:
        """The worker processes and the control (their children are added by the
        memory sampler)."""
        out = [p.pid for p in self.procs if p.poll() is None]
        if self.control is not None and self.control.poll() is None:
            out.append(self.control.pid)
        return out

    def kill9(self) -> int:
        pid = self.kill_target()
        os.kill(pid, signal.SIGKILL)
        self.killed.append(pid)
        return pid

    def close(self) -> None:
        """Stop the workers (SIGTERM, then SIGKILL after 15 s) and the control."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # its own session: only our processes
                p.wait()
        if self.control is not None:
            try:
                assert self.control.stdin is not None
                self.control.stdin.close()  # the control's serve() ends at EOF
            except (OSError, AssertionError):
                pass
            try:
                self.control.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.control.kill()
                self.control.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()
        self.procs = []
        self.control = None


def die(msg: str) -> None:
    print(msg, file=sys.stderr)
    raise SystemExit(2)
