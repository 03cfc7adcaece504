"""The hub-and-spoke example and `make demo`: outcomes asserted from the board and its log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from baton import RunState, TaskState
from baton.runtime.agents.offline import OFFLINE_MODEL_NAME
from examples.feature_team.run import run_example
from examples.feature_team.team import SUBPLAN, UI_ISSUES

ROOT = Path(__file__).resolve().parent.parent


def test_the_feature_team_plans_works_reviews_and_waits_for_approval(tmp_path: Path) -> None:
    result = asyncio.run(run_example(str(tmp_path / "team.db"), workers=3))
    assert result.run.state is RunState.FINISHED
    by_key = {t.key: t for t in result.tasks}
    planned = {t["id"] for t in SUBPLAN["tasks"]}
    assert set(by_key) == {"plan", *planned}
    assert all(t.state is TaskState.DONE for t in result.tasks)
    plan_task = by_key["plan"]
    assert all(by_key[k].parent_id == plan_task.id for k in planned)
    assert set(plan_task.output["results"]) == planned

    kinds = [(e.kind, (e.task_id or "").rsplit("/", 1)[-1]) for e in result.events]
    # The planner's sub-plan put the tasks on the board; the plan finished last of all.
    assert kinds.index(("task.expand", "plan")) < kinds.index(("task.claim", "schema"))
    assert ("task.children_done", "plan") in kinds
    # The reviewer returned the UI once, with its two issues, and approved the rework.
    rejects = [e for e in result.events if e.kind == "task.reject"]
    assert [(e.task_id or "").rsplit("/", 1)[-1] for e in rejects] == ["ui"]
    assert rejects[0].payload["feedback"] == UI_ISSUES
    assert by_key["ui"].output["fixed"] == UI_ISSUES
    assert by_key["ui"].review_rounds == 1
    # Deploy waited at the gate until a human approved it.
    gate = kinds.index(("task.submit_for_approval", "deploy"))
    approval = next(
        e for e in result.events if e.kind == "task.approve" and "deploy" in (e.task_id or "")
    )
    assert approval.actor == "human:example" and approval.seq > result.events[gate].seq
    # Specialists worked in parallel: some task was claimed while another was running.
    running: set[str] = set()
    overlap = False
    for e in result.events:
        key = (e.task_id or "").rsplit("/", 1)[-1]
        if e.kind == "task.claim":
            overlap = overlap or bool(running)
            running.add(key)
        elif e.kind in (
            "task.complete",
            "task.submit_for_review",
            "task.submit_for_approval",
            "task.expand",
        ):
            running.discard(key)
    assert overlap
    # Every model call is on record, and says it was the offline model.
    usage = [e for e in result.events if e.kind == "task.usage"]
    assert {e.payload["role"] for e in usage} == {
        "planner",
        "backend",
        "frontend",
        "infra",
        "docs",
        "reviewer",
    }
    assert {e.payload["model"] for e in usage} == {OFFLINE_MODEL_NAME}
    assert "Run finished: 8 of 8 tasks done." in result.narration


def test_make_demo_runs_offline_and_explains_itself(tmp_path: Path) -> None:
    env = {**os.environ, "BATON_DEMO_DB": str(tmp_path / "demo.db"), "COLUMNS": "120"}
    env.pop("BATON_MODEL", None)
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "not a language model" in out
    assert "Run finished: 8 of 8 tasks done." in out
    assert "'Profile UI component' passed review after 1 rework round(s)" in out
    assert "Tokens and cost per role" in out and OFFLINE_MODEL_NAME in out
    assert f"Database:  {tmp_path / 'demo.db'}" in out
