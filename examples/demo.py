"""`make demo`: a small team of function agents works a plan through the CLI.

Three worker processes share one SQLite board; the board is drawn live from the event
stream; the deploy step waits at a human approval gate, which this script approves the
way a person would (``baton approve``); then the run is narrated.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from baton import SyncBoard, TaskState

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "profile_page" / "plan.yaml"
AGENTS = "examples.profile_page.agents:HANDLERS"
BATON = [sys.executable, "-m", "baton"]


def main() -> int:
    console = Console()
    db = ROOT / ".baton" / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    run_id = f"demo-{time.strftime('%H%M%S')}"
    console.rule("Baton demo: the feature team")
    console.print(
        "Agents: deterministic Python functions (examples/profile_page/agents.py), "
        "[bold]no language model is called[/]."
    )
    subprocess.run(
        [*BATON, "run", str(PLAN), "--db", str(db), "--run-id", run_id], check=True, cwd=ROOT
    )
    workers = [
        subprocess.Popen(
            [
                *BATON,
                "worker",
                "--agents",
                AGENTS,
                "--db",
                str(db),
                "--run",
                run_id,
                "--name",
                f"agent-{i}",
            ],
            cwd=ROOT,
        )
        for i in range(1, 4)
    ]
    board_view = subprocess.Popen([*BATON, "board", run_id, "--db", str(db)], cwd=ROOT)
    with SyncBoard.open(db) as board:
        for event in board.subscribe(
            run_id=run_id, kinds=("task.submit_for_approval", "run."), idle_timeout=60
        ):
            if event.kind == "task.submit_for_approval" and event.task_id:
                time.sleep(1.0)  # let the viewer see the gate before a human acts on it
                subprocess.run(
                    [
                        *BATON,
                        "approve",
                        event.task_id,
                        "--db",
                        str(db),
                        "--as",
                        "human:demo",
                        "--comment",
                        "release window is open",
                    ],
                    check=True,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                )
            if event.kind.startswith("run.") and board.get_run(run_id).state != "active":
                break
        board_view.wait(timeout=30)
        for w in workers:
            w.wait(timeout=30)
        tasks = board.tasks(run_id)
        console.rule("What happened")
        subprocess.run([*BATON, "status", run_id, "--db", str(db)], check=True, cwd=ROOT)
        events = board.events(run_id)
        console.print(
            f"\n{sum(t.state is TaskState.DONE for t in tasks)}/{len(tasks)} tasks done, "
            f"{len(events)} events. Database: {db}\n"
            f"Event log: baton events {run_id} --db {db}   (add --json for machine-readable)\n"
            f"A task:    baton task show {run_id}/docs --db {db}"
        )
        return 0 if all(t.state is TaskState.DONE for t in tasks) else 1


if __name__ == "__main__":
    sys.exit(main())
