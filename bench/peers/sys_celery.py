"""Celery 5 on Redis, in its durable configuration.

``task_acks_late=True`` (a message is acknowledged after the task, not before),
``worker_prefetch_multiplier=1`` (a process reserves one message at a time),
``task_reject_on_worker_lost=True`` (without it Celery *acknowledges* the message of
a pool process that died — the task is marked failed with ``WorkerLostError`` and never
runs again, even with acks_late; its docs say so), results ignored (nothing reads
them). One ``celery worker`` with the default prefork pool of N processes
(``--concurrency N``): Celery's own way to run N worker processes on one machine; the
SIGKILL hits one pool process, which the parent replaces.

Fan-out: ``peer.delay`` per task. Chain and DAG: the roots only; a finishing task
``DECR``s its dependents' counts in Redis and sends those that reach zero (Celery's
canvas has chains and chords, but not a per-task fan-in of one or two parents across
layers without turning each layer into a barrier). The failing 1 % raise and
``self.retry(countdown=0, max_retries=1)``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import adapter
import psutil
import tasks


class Celery(adapter.Adapter):
    name = "celery"
    server = "redis"
    workers_mean = "one celery worker, prefork pool of N processes (--concurrency N)"
    recovery = (
        "task_reject_on_worker_lost=True: the dead pool process's unacknowledged message "
        "is requeued at once; the parent starts a new pool process"
    )
    durability_note = "Redis appendonly yes, appendfsync always / appendonly no"

    def worker_cmds(self, n: int) -> list[list[str]]:
        return [
            [
                self.python,
                "-m",
                "celery",
                "-A",
                "sys_celery",
                "worker",
                "-c",
                str(n),
                "-P",
                "prefork",
                "-Q",
                "peers",
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "-n",
                "peers@%h",
            ]
        ]

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), "control"]

    def expected_ready(self, n: int) -> int:
        return n  # one ready file per pool process (worker_process_init)

    def kill_target(self) -> int:
        kids = psutil.Process(self.procs[0].pid).children()
        return kids[0].pid

    def restart_killed(self) -> None:
        """Nothing to restart: the pool's parent replaced the process already."""


# --- inside the peers' processes ------------------------------------------------------


def _app() -> Any:
    import celery
    from celery.signals import worker_process_init

    url = os.environ.get("PEERS_REDIS_URL") or "redis://127.0.0.1:6379/0"
    app = celery.Celery("peers", broker=url)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue="peers",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @worker_process_init.connect(weak=False)
    def _ready(**_: Any) -> None:
        tasks.ready()

    return app


app = _app()
_redis: Any = None


def redis_conn() -> Any:
    global _redis
    if _redis is None or _redis[0] != os.getpid():
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(os.environ["PEERS_REDIS_URL"]))
    return _redis[1]


@app.task(bind=True, name="peer", max_retries=1)
def peer(self: Any, run: str, spec: str, tid: str, fail: bool) -> None:
    try:
        tasks.execute(run, tid, fail)
    except tasks.FailedOnce as exc:
        raise self.retry(countdown=0, exc=exc) from exc
    kids = tasks.graph(spec).children[tid]
    if not kids:
        return
    r = redis_conn()
    pipe = r.pipeline(transaction=False)
    for k in kids:
        pipe.decr(f"{run}:{k}")
    failing = tasks.graph(spec).failing
    for k, left in zip(kids, pipe.execute(), strict=True):
        if left == 0:
            peer.apply_async((run, spec, k, k in failing))


def control() -> None:
    from control import serve

    def submit(req: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        run, spec = req["run"], req["spec"]
        g = tasks.graph(spec)
        counts = {f"{run}:{t}": len(g.deps[t]) for t in g.ids if g.deps[t]}
        if counts:
            redis_conn().mset(counts)
        for t in g.roots:
            peer.apply_async((run, spec, t, t in g.failing))
        return {"enqueue_s": time.monotonic() - start}

    serve({"submit": submit})


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.argv[1] == "control":
        control()
