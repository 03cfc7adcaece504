"""Procrastinate (PostgreSQL job queue) as its docs set it up.

One ``procrastinate.App`` on a ``PsycopgConnector``, schema applied with
``schema_manager.apply_schema()``; one task ``peer`` (async, ``retry=
RetryStrategy(max_attempts=1)``: one retry for the failing 1 %); N worker processes,
each ``app.run_worker(concurrency=1)`` (what ``procrastinate worker`` runs), woken by
LISTEN/NOTIFY. Fan-out: ``batch_defer`` of every task at once. Chain and DAG: only
the roots are deferred; a finishing task decrements its dependents' counts in a
``peer_pending`` table of the same database (counters.py) and ``batch_defer``s those
that reach zero — Procrastinate has no dependencies of its own.

Durability is the server's (fsync / synchronous_commit; servers.py). A job whose
worker is killed stays ``doing``: nothing in Procrastinate retries it by itself. Its
docs' answer is a periodic task calling ``job_manager.get_stalled_jobs()`` (jobs of
workers whose heartbeat is stale) and ``retry_job`` — run here by the control after
the killed worker is restarted, with ``seconds_since_heartbeat=15``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import adapter
import tasks


class Procrastinate(adapter.Adapter):
    name = "procrastinate"
    server = "pg"
    workers_mean = "N processes, each app.run_worker(concurrency=1)"
    recovery = (
        "none by itself (the job stays 'doing'); the docs' stalled-job retry "
        "(get_stalled_jobs + retry_job), run once after the restart"
    )
    durability_note = "PostgreSQL fsync=on, synchronous_commit=on / fsync=off"

    def worker_cmds(self, n: int) -> list[list[str]]:
        me = str(Path(__file__).resolve())
        return [[self.python, me, "worker", f"w{i}"] for i in range(n)]

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), "control"]

    def after_kill(self) -> None:
        self.call("recover")


# --- inside the peers' processes ------------------------------------------------------


def make_app() -> tuple[Any, Any]:
    import procrastinate
    from counters import PgCounters

    counters = PgCounters(os.environ["PEERS_PG_URL"])
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=os.environ["PEERS_PG_URL"])
    )

    @app.task(name="peer", queue="peers", retry=procrastinate.RetryStrategy(max_attempts=1))
    async def peer(run: str, spec: str, tid: str, fail: bool) -> None:
        tasks.execute(run, tid, fail)
        ready = counters.release(run, spec, tid)
        if ready:
            failing = tasks.graph(spec).failing
            await peer.batch_defer_async(
                *[{"run": run, "spec": spec, "tid": t, "fail": t in failing} for t in ready]
            )

    return app, peer, counters


def worker(name: str) -> None:
    app, _peer, _c = make_app()
    tasks.ready()
    app.run_worker(queues=["peers"], concurrency=1, name=name, wait=True)


def control() -> None:
    from control import serve

    app, peer, counters = make_app()
    with app.open():
        app.schema_manager.apply_schema()
        counters.setup()

        def submit(req: dict[str, Any]) -> dict[str, Any]:
            start = time.monotonic()
            g = tasks.graph(req["spec"])
            counters.init(req["run"], req["spec"])
            peer.batch_defer(
                *[
                    {"run": req["run"], "spec": req["spec"], "tid": t, "fail": t in g.failing}
                    for t in g.roots
                ]
            )
            return {"enqueue_s": time.monotonic() - start}

        def recover(req: dict[str, Any]) -> dict[str, Any]:
            jobs = list(app.job_manager.get_stalled_jobs(seconds_since_heartbeat=15))
            for job in jobs:
                app.job_manager.retry_job(job)
            return {"retried": len(jobs)}

        serve({"submit": submit, "recover": recover})


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(sys.argv[2])
    else:
        control()
