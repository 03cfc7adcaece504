"""A team of registered participants through the documented Worker and the CLI: each
agent works as itself, nobody reviews their own work, the gate waits for a person with
the approve grant, and the log says who did what. Tokens are real and so are the
processes: ``baton worker --token`` in a subprocess, revoked mid-run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baton import (
    Board,
    InvalidArgument,
    PermissionDenied,
    RunState,
    SyncBoard,
    TaskState,
    Unauthenticated,
    Worker,
)

PLAN: dict[str, Any] = {
    "goal": "publish a post",
    "roles": ["writer", "reviewer"],
    "tasks": [
        {"id": "draft", "role": "writer", "reviewer_role": "reviewer"},
        {"id": "publish", "role": "writer", "depends_on": ["draft"], "requires_approval": True},
    ],
}


def write(ctx: Any) -> dict[str, str]:
    return {"text": f"{ctx.task.key} by {ctx.participant}"}


def review(ctx: Any) -> dict[str, bool]:
    return {"approve": True}


def test_a_team_of_participants_works_a_run_as_themselves(tmp_path: Path) -> None:
    async def main() -> None:
        owner = Board.open(tmp_path / "b.db")
        try:
            _, alice_token = await owner.add_participant(
                "alice", kind="agent", roles=["writer", "reviewer"], runs=["*"]
            )
            _, bob_token = await owner.add_participant(
                "bob", kind="agent", roles=["reviewer"], runs=["*"]
            )
            _, lead_token = await owner.add_participant(
                "lead", kind="human", grants=["approve"], runs=["*"]
            )
            run = await owner.create_run(PLAN, run_id="post")
            alice, bob = await owner.login(alice_token), await owner.login(bob_token)
            # alice serves both roles, yet must never get her own draft to review
            both = Worker(alice, {"writer": write, "reviewer": review}, name="alice")
            reviewer = Worker(bob, {"reviewer": review}, name="bob")
            stop = asyncio.Event()
            workers = [asyncio.create_task(w.run(stop=stop)) for w in (both, reviewer)]
            async with asyncio.timeout(30):
                async for e in owner.subscribe(run_id=run.id):
                    if e.kind == "task.submit_for_approval":
                        break
            lead = await owner.login(lead_token)
            with pytest.raises(PermissionDenied):  # a writer cannot pass the gate
                await alice.approve(f"{run.id}/publish", actor="alice")
            await lead.approve(f"{run.id}/publish", actor="lead")
            assert (await owner.wait_ended(run.id, timeout=30)).state is RunState.FINISHED
            stop.set()
            await asyncio.gather(*workers)
            events = await owner.events(run.id)
            who = {
                (e.kind, e.task_id.rsplit("/", 1)[1] if e.task_id else None): e.actor
                for e in events
            }
            assert who[("task.submit_for_review", "draft")] == "alice"
            assert who[("task.review_claimed", "draft")] == "bob"
            assert who[("task.approve", "draft")] == "bob"
            assert who[("task.approve", "publish")] == "lead"
            denials = [e for e in await owner.events() if e.kind == "access.denied"]
            assert [(e.actor, e.payload["action"]) for e in denials] == [("alice", "approve")]
        finally:
            await owner.close()

    asyncio.run(main())


def test_a_worker_must_run_as_its_participant_and_for_its_roles(tmp_path: Path) -> None:
    with SyncBoard.open(tmp_path / "b.db") as owner:
        _, token = owner.add_participant("alice", kind="agent", roles=["writer"], runs=["*"])
        alice = owner.login(token).board
        with pytest.raises(InvalidArgument, match="must be named 'alice'"):
            Worker(alice, {"writer": write}, name="w1")
        with pytest.raises(PermissionDenied, match="reviewer"):
            Worker(alice, {"writer": write, "reviewer": review}, name="alice")


def _baton(cwd: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    if token:
        env["BATON_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


TEAM = """
def write(ctx):
    return {"text": "by " + ctx.participant}

agents = {"writer": write}
"""


def test_the_cli_registers_participants_and_a_worker_runs_on_a_token(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(TEAM)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "goal: g\nroles: [writer]\ntasks:\n"
        "  - id: a\n    role: writer\n  - id: b\n    role: writer\n"
    )
    assert _baton(tmp_path, "run", str(plan), "--run-id", "r1").returncode == 0
    added = _baton(tmp_path, "participant", "add", "alice", "--roles", "writer", "--runs", "r1")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("baton_pt_") and "shown once" in added.stderr
    listed = _baton(tmp_path, "participant", "list", "--json")
    assert token not in listed.stdout and '"alice"' in listed.stdout

    denied = _baton(tmp_path, "cancel", "r1", token=token)
    assert denied.returncode == 2 and "alice may not cancel r1" in denied.stderr
    worked = _baton(
        tmp_path, "worker", "--agents", "team:agents", "--run", "r1", "--no-watchdog", token=token
    )
    assert worked.returncode == 0, worked.stderr
    assert "alice: finished 2 task(s)" in worked.stderr
    with SyncBoard.open(tmp_path / ".baton" / "board.db") as owner:
        assert {t.output["text"] for t in owner.tasks("r1")} == {"by alice"}
        assert {t.state for t in owner.tasks("r1")} == {TaskState.DONE}

    assert _baton(tmp_path, "participant", "revoke", "alice").returncode == 0
    gone = _baton(tmp_path, "status", "r1", token=token)
    assert gone.returncode == 2 and "revoked" in gone.stderr
    with SyncBoard.open(tmp_path / ".baton" / "board.db") as owner, pytest.raises(Unauthenticated):
        owner.login(token)
