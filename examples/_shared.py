"""What the pattern examples share: running real workers on a run until it ends, and
reading back what happened from the board (state and event log) for tests and printing.

Nothing here is specific to one example; each example's ``run.py`` builds its plan, its
workers and its agents, and hands them to :func:`work_run`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton import Board, Event, Run, Task
from baton.planning.files import load_plan
from baton.runtime.worker import AgentsLike, Worker
from baton.views.narration import narrate

#: How long an example's run may take before it counts as stuck (they take seconds).
RUN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunRecord:
    """One run as the board tells it afterwards: final states, the whole event log."""

    run: Run
    tasks: dict[str, Task]  # by plan id
    events: list[Event]
    escalations: list[Event]
    messages: list[Event]

    @property
    def narration(self) -> str:
        return narrate(self.run, list(self.tasks.values()))

    def key_of(self, task_id: str | None) -> str | None:
        return None if task_id is None else task_id.removeprefix(f"{self.run.id}/")

    def of(self, key: str | None = None, kind: str | None = None) -> list[Event]:
        """Events about task ``key`` (any task when ``None``) whose kind is ``kind``
        (or starts with it when it ends with a dot); all kinds when ``None``."""

        def match(e: Event) -> bool:
            if key is not None and self.key_of(e.task_id) != key:
                return False
            if kind is None:
                return True
            return e.kind.startswith(kind) if kind.endswith(".") else e.kind == kind

        return [e for e in self.events if match(e)]

    def seq(self, key: str | None, kind: str) -> int:
        """The ``seq`` of the first such event; ``LookupError`` when there is none."""
        found = self.of(key, kind)
        if not found:
            raise LookupError(f"no {kind} event for {key!r} in run {self.run.id}")
        return found[0].seq

    def children(self, key: str) -> list[str]:
        parent = f"{self.run.id}/{key}"
        return [t.key for t in self.tasks.values() if t.parent_id == parent]


@dataclass(frozen=True)
class ExampleResult:
    """What an example did: its runs (by a label such as ``"clean"``), the participant
    name of the worker serving each role, and the database it ran on."""

    db_path: str
    runs: dict[str, RunRecord]
    workers: dict[str, str] = field(default_factory=dict)  # role -> participant


async def register(board: Board, agents: Iterable[tuple[str, AgentsLike]]) -> dict[str, str]:
    """Register each worker name as a participant (kind agent, the roles its agents
    serve, every run); returns each one's token. Once per store, before the runs."""
    tokens = {}
    for name, spec in agents:
        roles = sorted(Worker(board, spec, name=name, watchdog=False).by_role)
        _, tokens[name] = await board.add_participant(name, kind="agent", roles=roles, runs=["*"])
    return tokens


async def workers_for(
    board: Board,
    agents: Iterable[tuple[str, AgentsLike]],
    *,
    tokens: Mapping[str, str],
    idle_wait_s: float = 0.05,
) -> list[Worker]:
    """One worker per ``(name, agents)``, each working on its participant's token (from
    :func:`register`) — so the log says who did what, and nobody acts outside their
    roles. Short idle waits so that retries with a short backoff are picked up
    promptly."""
    workers = []
    for name, spec in agents:
        me = await board.login(tokens[name])
        workers.append(Worker(me, spec, name=name, idle_wait_s=idle_wait_s, grace_s=5.0))
    return workers


async def work_run(
    board: Board, run_id: str, workers: Sequence[Worker], *, timeout: float = RUN_TIMEOUT_S
) -> RunRecord:
    """Run ``workers`` concurrently on ``run_id`` until the run ends; each
    ``Worker.run(run_id=...)`` returns when it has. ``TimeoutError`` if it does not end
    within ``timeout`` seconds (a stuck example fails loudly instead of hanging)."""
    async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run(run_id=run_id))
    return await record(board, run_id)


async def run_plan_file(
    db_path: str,
    plan: Path,
    agents: Mapping[str, AgentsLike],
    *,
    run_name: str,
    actor: str,
) -> ExampleResult:
    """Put a plan file on a fresh board and work it with one worker per role
    (participant ``<role>-agent``)."""
    names = {role: f"{role}-agent" for role in agents}
    board = Board.open(db_path)
    try:
        run = await board.create_run(
            load_plan(plan), run_id=f"{run_name}-{secrets.token_hex(2)}", actor=actor
        )
        team = [(names[role], a) for role, a in agents.items()]
        workers = await workers_for(board, team, tokens=await register(board, team))
        rec = await work_run(board, run.id, workers)
    finally:
        await board.close()
    return ExampleResult(db_path=db_path, runs={run_name: rec}, workers=names)


async def record(board: Board, run_id: str) -> RunRecord:
    tasks = await board.tasks(run_id)
    return RunRecord(
        run=await board.get_run(run_id),
        tasks={t.key: t for t in tasks},
        events=await board.events(run_id),
        escalations=await board.escalations(run_id),
        messages=await board.messages(run_id),
    )


def _brief(value: Any, width: int = 90) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def timeline(rec: RunRecord, *, skip: Sequence[str] = ("task.lease_renewed",)) -> str:
    """The run's event log, one line per event, for reading after a run."""
    lines = []
    for e in rec.events:
        if e.kind in skip:
            continue
        key = rec.key_of(e.task_id) or "-"
        detail = ""
        if e.kind.startswith("message."):
            detail = _brief(e.payload.get("body"))
        elif e.kind.startswith("escalation."):
            detail = _brief(e.payload.get("reason"))
        elif e.kind in ("task.reject",):
            detail = _brief(e.payload.get("feedback"))
        elif e.kind in ("task.retry", "task.fail"):
            detail = _brief((e.payload.get("error") or {}).get("message"))
        elif e.kind == "task.dep_failed":
            detail = f"root cause {rec.key_of(str(e.payload.get('root_cause')))}"
        elif e.kind == "task.expand":
            detail = f"children {e.payload.get('children')}"
        lines.append(f"{e.seq:>4}  {e.kind:<24} {key:<22} {e.actor:<18} {detail}".rstrip())
    return "\n".join(lines)


def report(title: str, result: ExampleResult) -> str:
    """What ``python -m examples.<name>.run`` prints: per run, the narration, the
    final states and the event log."""
    out = [f"== {title} ==", f"database: {result.db_path}"]
    for label, rec in result.runs.items():
        out.append(f"\n-- {label}: run {rec.run.id} ({rec.run.state.value}) --")
        out.append(rec.narration)
        out.append("")
        out.extend(f"  {t.key:<22} {t.state.value:<10} {t.role}" for t in rec.tasks.values())
        if rec.escalations:
            out.append("")
            out.extend(
                f"  escalation to a human: {e.payload['reason']} (evidence: "
                f"{_brief(e.payload['evidence'], 200)})"
                for e in rec.escalations
            )
        out.append("\n" + timeline(rec))
    return "\n".join(out)
