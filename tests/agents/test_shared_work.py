"""Agents working on shared state through their TaskContext: ``ctx.artifacts.update``
loses no update when many attempts write one document at once, a sync agent uses the
``_sync`` twins, and ``ctx.reservations`` keeps two coders off each other's files."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Board, ReservationConflict
from baton.agents import FunctionAgent, TaskContext
from tests.helpers import plan, task
from tests.worker_harness import work

pytestmark = pytest.mark.anyio

N = 12


async def test_concurrent_attempts_update_one_shared_document(board: Board) -> None:
    run = await board.create_run(plan(*(task(f"t{i}", "worker") for i in range(N))))
    await board.write_artifact(run.id, "log.json", {"done": []})
    await board.write_artifact(run.id, "notes.md", "# Notes\n")

    async def note(ctx: TaskContext) -> dict[str, Any]:
        key = ctx.task.key
        await ctx.artifacts.update(
            "log.json", lambda doc: {"done": [*doc["done"], key]}, scope=None
        )
        await ctx.artifacts.update("notes.md", lambda text: text + f"- {key}\n", scope=None)
        mine = await ctx.artifacts.write("draft.md", f"draft of {key}\n")
        return {"version": mine.version.version}

    await work(board, FunctionAgent(note, roles=["worker"]), run.id, concurrency=6)
    log = (await board.read_artifact(run.id, "log.json")).content
    assert sorted(log["done"]) == sorted(f"t{i}" for i in range(N))
    notes = (await board.read_artifact(run.id, "notes.md")).content
    assert sorted(notes.splitlines()[1:]) == sorted(f"- t{i}" for i in range(N))
    drafts = [a for a in await board.artifacts(run.id) if a.name == "draft.md"]
    assert sorted(a.scope or "" for a in drafts) == sorted(f"{run.id}/t{i}" for i in range(N))


async def test_a_sync_agent_reserves_and_writes(board: Board) -> None:
    run = await board.create_run(plan(task("a", "worker"), task("b", "worker")))
    seen: dict[str, Any] = {}

    def code(ctx: TaskContext) -> dict[str, Any]:
        try:
            ctx.reservations.reserve_sync(["src/api/**"])
        except ReservationConflict as held:
            seen[ctx.task.key] = held.holder
            ctx.artifacts.write_sync("waited.md", "someone else held src/api\n")
            return {"reserved": False}
        seen[ctx.task.key] = "me"
        ctx.artifacts.write_sync("src/api/routes.py", "ROUTES = []\n")
        return {"reserved": True}

    # one worker, one slot: a finishes (its reservation ends with it) before b starts
    await work(board, FunctionAgent(code, roles=["worker"]), run.id, concurrency=1)
    assert seen == {"a": "me", "b": "me"}
    assert await board.reservations(run.id) == []
