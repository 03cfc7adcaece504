"""One run, one trace: a run worked by three workers — one in this process (the SDK's
in-memory exporter), one in its own process on the store, one in its own process over
HTTP through a real ``baton serve`` — yields one connected trace holding every attempt,
with the server's spans inside the remote worker's attempts (W3C traceparent)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from baton import Board, SyncBoard, Worker
from baton.interfaces.cli.app import app
from baton.runtime.tracing import configure_tracing
from baton.views.timeline import attempts
from baton.views.trace_export import span_id_of, trace_id_of
from tests.helpers import plan, task
from tests.http_door import start_serve_process

TEAM = """
import os
import time

def work(ctx):
    # Every worker holds a task before any finishes one (the test opens the gate once
    # the log shows a claim by each), so none can take the whole run while another
    # process is still starting; after that, long enough that the work is shared.
    deadline = time.monotonic() + 60
    while not os.path.exists("gate-open") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    ctx.record_usage_sync(model="offline", input_tokens=10, output_tokens=2)
    return {"by": ctx.participant}

agents = {"worker": work}
"""

_MEMORY = InMemorySpanExporter()


@pytest.fixture(scope="module")
def memory() -> InMemorySpanExporter:
    """The SDK in this process, once (a tracer provider can only be set once)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_MEMORY))
    trace.set_tracer_provider(provider)
    return _MEMORY


def _hex(value: int | str | None) -> str | None:
    if value is None:
        return None
    return value[2:] if isinstance(value, str) else format(value, "016x")


def _spans_from_file(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        s = json.loads(line)
        out.append(
            {
                "name": s["name"],
                "trace": s["context"]["trace_id"][2:],
                "span": s["context"]["span_id"][2:],
                "parent": _hex(s.get("parent_id")),
                "attrs": s.get("attributes", {}),
                "from": path.stem,
            }
        )
    return out


def _worker(tmp: Path, name: str, where: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.Popen(
        [sys.executable, "-m", "baton", "worker", "--agents", "team:agents", *where,
         "--name", name, "--no-watchdog"],
        cwd=tmp,
        env={**base, "PYTHONPATH": str(tmp), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _open_the_gate(db: str, run_id: str, tmp: Path) -> None:
    """Once the log shows a claim by each of the three workers, let their agents go."""
    with SyncBoard.open(db) as watcher:
        deadline = time.monotonic() + 90
        seen = 0
        holders: set[str] = set()
        while time.monotonic() < deadline and holders < {"local", "remote", "inproc"}:
            watcher.wait_for_change(seen, 1.0)
            for e in watcher.events(run_id, since=seen):
                seen = e.seq
                if e.kind == "task.claim":
                    holders.add(e.actor)
    (tmp / "gate-open").touch()  # on time-out too: the test then says who got no work


@pytest.mark.timeout(180)
def test_three_workers_one_remote_make_one_connected_trace(
    tmp_path: Path, memory: InMemorySpanExporter
) -> None:
    (tmp_path / "team.py").write_text(TEAM)
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as owner:
        run = owner.create_run(plan(*(task(f"t{i:02d}") for i in range(24))))
        _, token = owner.add_participant("remote", kind="agent", roles=["worker"], runs=[run.id])
    server, url = start_serve_process(db, env={"BATON_TRACE_FILE": str(tmp_path / "server.jsonl")})
    try:
        local = _worker(tmp_path, "local", ["--db", db, "--run", run.id],
                        {"BATON_TRACE_FILE": str(tmp_path / "local.jsonl")})  # fmt: skip
        remote = _worker(tmp_path, "remote", ["--server", url, "--run", run.id],
                         {"BATON_TRACE_FILE": str(tmp_path / "remote.jsonl"),
                          "BATON_TOKEN": token})  # fmt: skip

        async def here() -> None:
            import time

            def work(ctx: Any) -> dict[str, str]:
                deadline = time.monotonic() + 60
                while not (tmp_path / "gate-open").exists() and time.monotonic() < deadline:
                    time.sleep(0.01)  # as the team's agents: every worker holds a task first
                time.sleep(0.05)
                return {"by": ctx.participant}

            board = Board.open(db)
            try:
                worker = Worker(board, {"worker": work}, name="inproc", watchdog=False)
                await asyncio.wait_for(worker.run(run_id=run.id), 120)
            finally:
                await board.close()

        gate = threading.Thread(target=_open_the_gate, args=(db, run.id, tmp_path), daemon=True)
        gate.start()
        asyncio.run(here())
        gate.join(5)
        for proc in (local, remote):
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)
    exported = tmp_path / "trace.json"
    done = CliRunner().invoke(app, ["trace", run.id, "--db", db, "--otlp-json", str(exported)])
    assert done.exit_code == 0, done.output
    with SyncBoard.open(db) as owner:
        events = owner.events(run.id)
    live: list[dict[str, Any]] = [
        {
            "name": s.name,
            "trace": format(s.context.trace_id, "032x"),
            "span": format(s.context.span_id, "016x"),
            "parent": _hex(s.parent.span_id) if s.parent else None,
            "attrs": dict(s.attributes or {}),
            "from": "inproc",
        }
        for s in memory.get_finished_spans()
        if (s.attributes or {}).get("baton.run.id") == run.id or s.name.startswith("chat")
    ]
    for name in ("local", "remote", "server"):
        live += _spans_from_file(tmp_path / f"{name}.jsonl")
    live = [s for s in live if s["trace"] == trace_id_of(run.id)]
    rebuilt = json.loads(exported.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    # every attempt in the log is a live attempt span, by the participant that made it
    by_log = Counter((a.task_id, a.participant) for a in attempts(events))
    by_span = Counter(
        (s["attrs"]["baton.task.id"], s["attrs"]["baton.participant"])
        for s in live
        if s["name"].startswith("attempt ")
    )
    assert by_span == by_log
    workers = {p for _, p in by_log}
    assert workers == {"local", "remote", "inproc"}, f"not every worker got work: {by_log}"
    # connected: every live span's parent is a live span or the run's span, which the
    # trace rebuilt from the log provides (with the same ids)
    ids = {s["span"] for s in live} | {s["spanId"] for s in rebuilt}
    assert span_id_of(run.id) in ids
    orphans = [s for s in live if s["parent"] is not None and s["parent"] not in ids]
    assert orphans == []
    # the server's work for the remote worker is inside its attempts
    remote_attempts = {s["span"] for s in live if s["from"] == "remote" and "attempt" in s["name"]}
    parent_of = {s["span"]: s["parent"] for s in live}
    server_spans = [s for s in live if s["from"] == "server"]
    assert server_spans, "baton serve recorded no spans for the remote worker's calls"
    for s in server_spans:
        parent = s["parent"]
        while parent in parent_of and parent not in remote_attempts:
            parent = parent_of[parent]
        assert parent in remote_attempts, s
    assert any(s["name"].startswith("POST /tasks/") for s in server_spans)
    # model calls are GenAI spans under attempts
    chats = [s for s in live if s["name"] == "chat offline"]
    assert chats and all(s["attrs"]["gen_ai.usage.input_tokens"] == 10 for s in chats)


def test_no_exporter_configured_means_no_sdk() -> None:
    assert configure_tracing({}) is False
    assert configure_tracing({"OTEL_TRACES_EXPORTER": "none"}) is False
