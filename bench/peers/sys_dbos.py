"""DBOS Transact (durable workflows in a system database), on PostgreSQL and SQLite.

Each task is a workflow ``peer`` with one step ``work`` (the no-op; ``retries_allowed=
True, max_attempts=2`` for the failing 1 %) and one step ``release`` (decrement the
dependents' counts, counters.py) — after which the workflow enqueues the dependents
that reached zero on the queue ``peers`` (an enqueue from a workflow is itself
recorded, so a recovered workflow does not enqueue twice). DBOS has no dependencies
between workflows of its own; a parent workflow awaiting children would run the
whole DAG's control in one process.

N worker processes, each ``DBOS.launch()`` with the queue declared as
``DBOS.register_queue("peers", worker_concurrency=1, polling_interval_sec=0.1)`` and its own
``executor_id``. Queues are polled: the default ``polling_interval_sec`` is 1.0 s,
which alone would put ~0.5 s into every hand-off (a 300-task chain: minutes); 0.1 s is
used and reported. The control enqueues with ``DBOSClient``. System database:
PostgreSQL (a database of its own; the server's fsync setting), or a SQLite file
(DBOS's default when no URL is given; its own pragmas) with the counts in a SQLite file
beside it.

A killed process's workflows stay ``PENDING`` under its ``executor_id``: DBOS
recovers them when an executor with that id starts again (its docs: a restarted
process, or Conductor) — so the killed worker is restarted with the same id.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import adapter
import tasks

POLL_S = 0.1


class _Dbos(adapter.Adapter):
    store = "pg"
    workers_mean = "N processes, each DBOS.launch() with Queue(worker_concurrency=1)"
    recovery = (
        "restart of the killed process with the same executor_id "
        "(DBOS recovers its PENDING workflows)"
    )

    def worker_cmds(self, n: int) -> list[list[str]]:
        me = str(Path(__file__).resolve())
        return [[self.python, me, "worker", f"w{i}"] for i in range(n)]

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), "control"]

    def env(self) -> dict[str, str]:
        return {**super().env(), "PEERS_DBOS_STORE": self.store}


class DbosPg(_Dbos):
    name = "dbos-pg"
    server = "pg"
    durability_note = "PostgreSQL fsync=on, synchronous_commit=on / fsync=off"


class DbosSqlite(_Dbos):
    name = "dbos-sqlite"
    server = None
    store = "sqlite"
    durability_note = "SQLite system database with DBOS's own pragmas (the same in both settings)"


ADAPTERS = (DbosPg, DbosSqlite)


# --- inside the peers' processes ------------------------------------------------------


def sys_url() -> str:
    if os.environ["PEERS_DBOS_STORE"] == "pg":
        return os.environ["PEERS_PG_URL"]
    return f"sqlite:///{os.environ['PEERS_WORKDIR']}/dbos.sqlite"


def config(executor: str) -> Any:
    return {
        "name": "peers",
        "system_database_url": sys_url(),
        "executor_id": executor,
        "application_version": "peers-1",  # the same in every process (and the control)
    }


def make_counters() -> Any:
    import counters

    if os.environ["PEERS_DBOS_STORE"] == "pg":
        return counters.PgCounters(os.environ["PEERS_PG_URL"])
    return counters.SqliteCounters(f"{os.environ['PEERS_WORKDIR']}/pending.sqlite")


def define(queues: dict[str, Any], counts: Any) -> Any:
    from dbos import DBOS

    @DBOS.step(retries_allowed=True, max_attempts=2, interval_seconds=0.0)
    def work(run: str, tid: str, fail: bool) -> None:
        tasks.execute(run, tid, fail)

    @DBOS.step()
    def release(run: str, spec: str, tid: str) -> list[str]:
        return counts.release(run, spec, tid)

    @DBOS.workflow(name="peer")
    def peer(run: str, spec: str, tid: str, fail: bool) -> None:
        work(run, tid, fail)
        failing = tasks.graph(spec).failing
        for t in release(run, spec, tid):
            queues["peers"].enqueue(peer, run, spec, t, t in failing)

    return peer


def worker(name: str) -> None:
    from dbos import DBOS

    DBOS(config=config(name))
    queues: dict[str, Any] = {}
    define(queues, make_counters())
    DBOS.launch()
    queues["peers"] = DBOS.register_queue(
        "peers", worker_concurrency=1, polling_interval_sec=POLL_S
    )
    tasks.ready()
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    DBOS.destroy(destroy_registry=True)


def control() -> None:
    from control import serve
    from dbos import DBOS, DBOSClient

    # launched once without the queue: creates and migrates the system database
    DBOS(config=config("control"))
    DBOS.launch()
    DBOS.destroy(destroy_registry=True)
    counts = make_counters()
    counts.setup()
    client = DBOSClient(system_database_url=sys_url())

    def submit(req: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        run, spec = req["run"], req["spec"]
        g = tasks.graph(spec)
        counts.init(run, spec)
        opts: Any = {"queue_name": "peers", "workflow_name": "peer"}
        for t in g.roots:
            client.enqueue(opts, run, spec, t, t in g.failing)
        return {"enqueue_s": time.monotonic() - start}

    serve({"submit": submit})
    client.destroy()


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(sys.argv[2])
    else:
        control()
