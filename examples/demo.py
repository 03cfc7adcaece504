"""`make demo`: the feature team (hub-and-spoke) on the embedded SQLite board.

A planner agent turns the goal into a plan; backend, frontend, infra and docs agents
work it in parallel from three worker processes; a reviewer agent returns the UI with
two issues and approves the rework; the deploy waits at a human approval gate, which
this script approves the way a person would (``baton approve``) — it says so, and waits
for you to do it yourself when run in a terminal. No orchestrator process: one of the
workers holds the watchdog duty (reaping, stalls, escalations). Every worker is a
registered participant with its own token and roles, and the human gate is approved by
the participant ``lead`` (a human with the approve grant) — so the log says who did
what, and nobody reviews their own work. Then: the narration, who did what, tokens and
cost per role, and where the database and the event log are.

Offline (no ``BATON_MODEL``), every agent runs on Baton's deterministic offline model —
not a language model, and it says so. With ``BATON_MODEL`` and a key set, every agent
uses that model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from baton import SyncBoard, TaskState
from examples.feature_team.team import GOAL, ROLES

ROOT = Path(__file__).resolve().parent.parent
AGENTS = "examples.feature_team.team:AGENTS"
BATON = [sys.executable, "-m", "baton"]


def main() -> int:
    console = Console()
    db = Path(os.environ.get("BATON_DEMO_DB", ROOT / ".baton" / "demo.db"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    run_id = f"demo-{time.strftime('%H%M%S')}"
    model = os.environ.get("BATON_MODEL")
    console.rule("Baton demo: the feature team")
    if model:
        console.print(f"Every agent uses the model [bold]{model}[/] (BATON_MODEL).")
    else:
        console.print(
            "No BATON_MODEL set: every agent runs on [bold]baton-offline-deterministic[/], "
            "a scripted offline stand-in — [bold]not a language model[/]."
        )
    # Offline answers are instant; a little simulated thinking time lets you watch.
    env = {**os.environ, "BATON_DB": str(db), "BATON_OFFLINE_LATENCY_S": "0.8"}

    def baton(*args: str, **kwargs: object) -> None:
        subprocess.run([*BATON, *args], check=True, cwd=ROOT, env=env, **kwargs)  # type: ignore[call-overload]

    baton("plan", GOAL, "--roles", ",".join(ROLES), "--run-id", run_id)
    tokens = {}
    with SyncBoard.open(db) as owner:  # the store's owner registers the team
        for i in range(1, 4):
            _, tokens[f"agent-{i}"] = owner.add_participant(
                f"agent-{i}", kind="agent", roles=[*ROLES, "planner"], runs=[run_id]
            )
        _, lead = owner.add_participant(
            "lead",
            kind="human",
            name="Team lead",
            grants=["approve", "answer", "steer"],
            runs=[run_id],
        )
    console.print(
        "Registered participants agent-1..3 (agents, every role) and lead (a human who may "
        "approve, answer and steer): `baton participant list` shows them."
    )
    console.print(
        f"[bold]Watch this run live in your browser:[/] in another terminal run\n"
        f"  baton serve --db {db}\n"
        f"open the URL it prints and sign in as lead with the token\n  {lead}\n"
        "(you can approve the deploy gate there too)."
    )
    procs = [
        subprocess.Popen(
            [*BATON, "worker", "--agents", AGENTS, "--run", run_id, "--concurrency", "1"],
            cwd=ROOT,
            env={**env, "BATON_TOKEN": token},  # the worker acts as its participant
        )
        for token in tokens.values()
    ]
    # No orchestrator process: one of the workers holds the watchdog duty.
    viewer = subprocess.Popen([*BATON, "board", run_id, "--timeout", "120"], cwd=ROOT, env=env)
    with SyncBoard.open(db) as board:
        stream = board.subscribe(
            run_id=run_id, kinds=("task.submit_for_approval", "run."), idle_timeout=90
        )
        for event in stream:
            if event.kind == "task.submit_for_approval" and event.task_id:
                command = (
                    f"baton approve {event.task_id} --db {db} --token $LEAD_TOKEN "
                    '--comment "release window is open"'
                )
                if sys.stdin.isatty():  # a person is watching: let them be the human
                    console.print(
                        f"\n[bold magenta]Human step:[/] {event.task_id} waits at its approval "
                        f"gate. Approve it in another terminal:\n  {command}\n"
                        f"(LEAD_TOKEN={lead}) or press Enter and this demo approves it as lead."
                    )
                    input()
                else:
                    console.print(
                        f"\n[bold magenta]Human step:[/] {event.task_id} waits at its approval "
                        "gate; no terminal here, so the demo acts as the human (lead) "
                        f"and types what a person would:\n  {command}\n"
                    )
                if board.get_task(event.task_id).state is not TaskState.AWAITING_APPROVAL:
                    continue  # the person approved (or rejected) it themselves
                baton(
                    "approve",
                    event.task_id,
                    "--token",
                    lead,
                    "--comment",
                    "release window is open",
                    stdout=subprocess.DEVNULL,
                )
            if event.kind.startswith("run.") and board.get_run(run_id).state != "active":
                break
        viewer.wait(timeout=60)
        for p in procs:
            p.wait(timeout=60)
        tasks = board.tasks(run_id)
        console.rule("What happened")
        baton("status", run_id)
        events = board.events(run_id)
        console.print("\nWho did what:")
        for t in tasks:
            judged = [
                f"{e.kind.removeprefix('task.')} by {e.actor}"
                for e in events
                if e.task_id == t.id and e.kind in ("task.approve", "task.reject")
            ]
            console.print(
                f"  {t.key:<16} worked by {t.worked_by or '-':<8} "
                + (", ".join(judged) if judged else "")
            )
        baton("usage", run_id)
        contexts = [e for e in events if e.kind == "task.context"]
        if contexts:
            given = sum(e.payload["total_tokens"] for e in contexts)
            most = max(e.payload["total_tokens"] for e in contexts)
            console.print(
                f"\nContext: {len(contexts)} model calls were given {given:,} tokens in all "
                f"(at most {most:,} in one, within a budget of "
                f"{contexts[0].payload['budget']:,}): each recorded as a task.context event."
            )
        console.print(
            f"\n{sum(t.state is TaskState.DONE for t in tasks)}/{len(tasks)} tasks done, "
            f"{len(events)} events, {len(board.escalations(run_id))} escalation(s).\n"
            f"Database:  {db}\n"
            f"Event log: baton events {run_id} --db {db}   (--json for one object per line)\n"
            f"A task:    baton task show {run_id}/ui --db {db}\n"
            f"In a browser: baton serve --db {db}  (sign in as lead: {lead})"
        )
        return 0 if all(t.state is TaskState.DONE for t in tasks) else 1


if __name__ == "__main__":
    sys.exit(main())
