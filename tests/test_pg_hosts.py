"""Many machines: ``baton worker --db postgresql://…`` on any host joins the board.

Shown with real ``python -m baton worker`` processes, each in its own network namespace
(its own network stack: loopback plus one veth link to the server's namespace), reaching
a PostgreSQL server that runs in yet another namespace, over that virtual network.
Everything is made by the test (tests/pgprocs/netns.py) and removed afterwards.

If this machine does not allow network namespaces (or ``BATON_NO_NETNS`` is set), that
test SKIPS saying so, and ``test_workers_on_localhost_join_one_board`` runs the same
workers as separate processes on 127.0.0.1 instead (and says so, loudly).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from baton import RunState, SyncBoard, TaskState
from tests import pg
from tests.helpers import plan, task
from tests.pgprocs import server
from tests.pgprocs.netns import Network, Server, why_not

ROOT = Path(__file__).resolve().parents[1]
HOSTS = 2
CHAINS, CHAIN_LEN = 8, 5
AGENTS = "tests.pgprocs.host_agents:AGENTS"
TIMEOUT_S = 90.0

NETNS_PROBLEM = (
    "BATON_NO_NETNS is set"
    if os.environ.get("BATON_NO_NETNS")
    else (why_not() if sys.platform == "linux" else "not Linux")
)


def _plan() -> dict[str, Any]:
    """Chains worked in parallel, then one sink (so the run ends with one completion)."""
    specs = []
    for c in range(CHAINS):
        for j in range(CHAIN_LEN):
            deps = (f"c{c}.{j - 1}",) if j else ()
            specs.append(task(f"c{c}.{j}", deps=deps, lease_s=10.0))
    specs.append(task("sink", deps=tuple(f"c{c}.{CHAIN_LEN - 1}" for c in range(CHAINS))))
    return plan(*specs)


def _bindir() -> str | None:
    if server.BIN:
        return server.BIN
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


def _worker_cmd(url: str, run_id: str, name: str) -> list[str]:
    cli = [sys.executable, "-m", "baton", "worker"]
    return [*cli, "--db", url, "--agents", AGENTS, "--run", run_id, "--name", name]


def _run_workers(
    cmds: list[list[str]],
    envs: list[dict[str, str]],
    logs: Path,
    clients: Callable[[], set[str]],
) -> tuple[list[int | None], set[str], list[str]]:
    """Start the workers, watch which client addresses the server sees until they all
    exit (they exit when the run ends); exit codes, addresses, their stderr."""
    procs = []
    outs = []
    try:
        for i, (cmd, env) in enumerate(zip(cmds, envs, strict=True)):
            out = logs / f"worker{i}.log"
            outs.append(out)
            with out.open("w") as f:
                procs.append(
                    subprocess.Popen(
                        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=f, stderr=f, text=True
                    )
                )
        seen: set[str] = set()
        deadline = time.monotonic() + TIMEOUT_S
        while any(p.poll() is None for p in procs):
            if time.monotonic() > deadline:
                pytest.fail(f"workers still running after {TIMEOUT_S}s")
            seen |= clients()
            time.sleep(0.05)  # sampling the server's client list while they work
        return [p.returncode for p in procs], seen, [o.read_text() for o in outs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _check_board(board: SyncBoard, run_id: str, names: dict[str, str]) -> dict[str, int]:
    """Every task done once, by one of the workers, whose agent says where it ran."""
    tasks = board.tasks(run_id)
    assert board.get_run(run_id).state is RunState.FINISHED
    assert Counter(t.state for t in tasks) == {TaskState.DONE: len(tasks)}
    events = board.events(run_id, limit=100_000)
    completes = Counter(e.task_id for e in events if e.kind == "task.complete")
    assert completes == dict.fromkeys((t.id for t in tasks), 1)
    by: Counter[str] = Counter()
    for e in events:
        if e.kind == "task.complete":
            host = e.payload["output"]["host"]
            assert names[e.actor] == host, f"{e.actor} is not on {host}"
            by[host] += 1
    for t in tasks:
        deps_hosts = sorted(board.get_task(d).output["host"] for d in t.depends_on)
        assert t.output["saw"] == deps_hosts, "a dependency's output did not reach its host"
    return dict(by)


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S + 60)
@pytest.mark.skipif(
    NETNS_PROBLEM is not None,
    reason=f"!!! NETWORK NAMESPACES UNAVAILABLE: {NETNS_PROBLEM}; the workers ran as "
    "separate processes on 127.0.0.1 instead (test_workers_on_localhost_join_one_board) !!!",
)
def test_workers_in_separate_network_namespaces_join_one_board(
    pg_template: bool, tmp_path: Path
) -> None:
    bindir = _bindir()
    if bindir is None:
        pytest.skip(pg.WHY_MISSING)
    net = Network(HOSTS)
    db = Server(bindir, net)
    try:
        net.up()
        db.start()
        with psycopg.connect(db.local_url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE hosts")
        with SyncBoard.open(db.local_url("hosts")) as board:
            run = board.create_run(_plan())

        hosts = range(1, HOSTS + 1)
        for i in hosts:  # each host sees only its loopback and its own link
            assert net.addresses(net.host_ns(i)) == {"127.0.0.1", net.host_addr(i)}
        names = {f"host{i}": net.host_ns(i) for i in hosts}
        cmds = [
            net.exec_in(net.host_ns(i), _worker_cmd(db.url_from_host(i, "hosts"), run.id, n))
            for i, n in zip(hosts, names, strict=True)
        ]
        envs = [
            {"BATON_HOST_NS": net.host_ns(i), "BATON_HOST_SERVER": net.server_addr(i)}
            for i in hosts
        ]

        with psycopg.connect(db.local_url("postgres"), autocommit=True) as admin:

            def clients() -> set[str]:
                rows = admin.execute(
                    "SELECT DISTINCT host(client_addr) FROM pg_stat_activity "
                    "WHERE datname = 'hosts' AND client_addr IS NOT NULL"
                ).fetchall()
                return {str(r[0]) for r in rows}

            codes, seen, logs = _run_workers(cmds, envs, tmp_path, clients)
        assert codes == [0] * HOSTS, logs
        assert seen == {net.host_addr(i) for i in hosts}, "the server saw other clients"

        with SyncBoard.open(db.local_url("hosts")) as board:
            by_host = _check_board(board, run.id, names)
            addrs = {t.output["host"]: t.output["addr"] for t in board.tasks(run.id)}
        assert set(by_host) == set(names.values()), f"a host did no work: {by_host}"
        assert addrs == {net.host_ns(i): net.host_addr(i) for i in hosts}
        print(
            f"\nhosts: {HOSTS} `baton worker` processes in their own network namespaces "
            f"({', '.join(f'{net.host_ns(i)}={net.host_addr(i)}' for i in hosts)}) reached "
            f"PostgreSQL in {net.server_ns} over veth links; tasks per host {by_host}"
        )
    finally:
        db.stop()
        net.down()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S + 60)
@pytest.mark.skipif(
    NETNS_PROBLEM is None,
    reason="network namespaces work here: the namespaced test shows it for real",
)
def test_workers_on_localhost_join_one_board(pg_template: bool, tmp_path: Path) -> None:
    print(
        f"\n!!! NETWORK NAMESPACES UNAVAILABLE ({NETNS_PROBLEM}): the workers run as "
        "separate processes on 127.0.0.1, NOT on separate (virtual) hosts !!!"
    )
    url = pg.fresh_database()
    try:
        with SyncBoard.open(url) as board:
            run = board.create_run(_plan())
        names = {f"host{i}": f"process{i}" for i in range(1, HOSTS + 1)}
        cmds = [_worker_cmd(url, run.id, n) for n in names]
        envs = [{"BATON_HOST_NS": ns} for ns in names.values()]
        codes, _, logs = _run_workers(cmds, envs, tmp_path, set)
        assert codes == [0] * HOSTS, logs
        with SyncBoard.open(url) as board:
            by_host = _check_board(board, run.id, names)
        assert set(by_host) == set(names.values()), f"a worker did no work: {by_host}"
    finally:
        pg.drop_database(url)
