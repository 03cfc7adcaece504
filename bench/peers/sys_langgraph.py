"""LangGraph with its SQLite checkpointer, ``durability="sync"``.

LangGraph is a library, not a queue: a graph runs inside the process that invokes it.
The workload is one ``StateGraph`` whose nodes are the tasks: the roots hang off
``START``; a task with one dependency gets ``add_edge(dep, task)``, one with two gets
``add_edge([dep1, dep2], task)`` (a join: it runs once both have written). LangGraph
runs a graph in supersteps — every node triggered by the last step runs in the next —
so the fan-out is one superstep of 2,000 nodes, the chain 300 supersteps of one node,
the DAG 40 supersteps of 50. The failing 1 % have ``RetryPolicy(max_attempts=2)``.

"N workers" for LangGraph is ``max_concurrency=N`` in the run's config: how many of a
superstep's nodes its executor runs at once, as threads of the one process (there is no
second process to share the work with: a graph invocation is one process). With
``durability="sync"`` each superstep's checkpoint (and each finished node's writes)
is written to the ``SqliteSaver`` before the next step starts; the SQLite file has
``synchronous=FULL`` (durable) or ``NORMAL`` (fast).

SIGKILL: the one process is the worker. Recovery is what LangGraph documents —
invoke the same ``thread_id`` again with ``None`` as input, in a new process: it
resumes from the last checkpoint, skipping the nodes whose writes were saved.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import adapter
import tasks


class LangGraph(adapter.Adapter):
    name = "langgraph"
    server = None
    workers_mean = "one process; N = max_concurrency (threads running a superstep's nodes)"
    recovery = "re-invoke the thread_id with None in a new process (resume from checkpoint)"
    durability_note = "SqliteSaver, durability='sync'; SQLite synchronous=FULL / NORMAL"

    def worker_cmds(self, n: int) -> list[list[str]]:
        return []

    def control_cmd(self) -> list[str]:
        return [self.python, str(Path(__file__).resolve()), str(self.n)]

    def kill_target(self) -> int:
        assert self.control is not None
        return self.control.pid

    def restart_killed(self) -> None:
        import subprocess

        assert self.ctx is not None
        log = open(self.ctx.workdir / "control-restarted.log", "a")  # noqa: SIM115
        self._logs.append(log)  # type: ignore[arg-type]
        self.control = subprocess.Popen(
            self.control_cmd(),
            env=self.env(),
            cwd=str(adapter.HERE),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        self._reply(timeout_s=120)
        run, spec = self.last
        self.call("resume", run=run, spec=spec)

    def expected_ready(self, n: int) -> int:
        return 0


# --- inside the peers' process --------------------------------------------------------


class State(TypedDict):
    n: Annotated[int, operator.add]


def build(run: str, spec: str, saver: Any) -> Any:
    from langgraph.graph import START, StateGraph
    from langgraph.types import RetryPolicy

    g = tasks.graph(spec)
    sg = StateGraph(State)
    retry = RetryPolicy(
        max_attempts=2, initial_interval=0.001, jitter=False, retry_on=tasks.FailedOnce
    )

    def node(t: str, fail: bool) -> Any:
        def run_task(state: State) -> dict[str, int]:
            tasks.execute(run, t, fail)
            return {"n": 1}

        return run_task

    for t in g.ids:
        fail = t in g.failing
        sg.add_node(t, node(t, fail), retry_policy=retry if fail else None)
    for t in g.ids:
        deps = g.deps[t]
        if not deps:
            sg.add_edge(START, t)
        elif len(deps) == 1:
            sg.add_edge(deps[0], t)
        else:
            sg.add_edge(list(deps), t)
    return sg.compile(checkpointer=saver)


def main(concurrency: int) -> None:
    from control import serve
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(os.environ["PEERS_WORKDIR"]) / "langgraph.sqlite"
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    sync = "FULL" if os.environ["PEERS_DURABLE"] == "1" else "NORMAL"
    conn.execute(f"PRAGMA synchronous={sync}")
    errors: list[str] = []

    def go(run: str, spec: str, resume: bool) -> None:
        try:
            graph = build(run, spec, saver)
            config: Any = {
                "configurable": {"thread_id": run},
                "max_concurrency": concurrency,
                "recursion_limit": 100_000,
            }
            graph.invoke(None if resume else {"n": 0}, config, durability="sync")
        except Exception as exc:  # reported in the log, the run times out
            errors.append(repr(exc))
            print(f"langgraph run {run} failed: {exc!r}", file=sys.stderr)

    def start(req: dict[str, Any], resume: bool) -> dict[str, Any]:
        t0 = time.monotonic()
        threading.Thread(target=go, args=(req["run"], req["spec"], resume), daemon=True).start()
        tasks.ready()
        return {"enqueue_s": time.monotonic() - t0}

    serve({"submit": lambda r: start(r, False), "resume": lambda r: start(r, True)})


if __name__ == "__main__":
    main(int(sys.argv[1]))
