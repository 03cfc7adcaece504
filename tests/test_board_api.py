"""The Board's interface, written down (``BoardAPI``), is what the runtime uses: the
local Board satisfies it signature by signature, and a Worker, its watchdog duty and
the Orchestrator run a whole run through an object that has nothing but that
interface — no ``store``, no ``core`` — as a remote board over HTTP will."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from baton import Board, BoardAPI, Orchestrator, RemoteBoard, RunState, SyncBoard, Worker
from tests.helpers import plan, task

API = [
    name
    for name, member in inspect.getmembers(BoardAPI)
    if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
]


def test_board_satisfies_the_interface(tmp_path: Path) -> None:
    board = Board.open(tmp_path / "b.db")
    assert isinstance(board, BoardAPI)
    asyncio.run(board.close())


@pytest.mark.parametrize("board_class", [Board, RemoteBoard], ids=["local", "remote"])
@pytest.mark.parametrize("name", [n for n in API if n not in ("limits", "principal")])
def test_each_method_has_the_interfaces_signature(name: str, board_class: type) -> None:
    """The local Board and the remote one over HTTP, signature by signature."""
    declared = inspect.signature(getattr(BoardAPI, name))
    implemented = inspect.signature(getattr(board_class, name))
    label = board_class.__name__
    assert implemented == declared, f"{label}.{name}{implemented} != BoardAPI.{name}{declared}"
    assert inspect.iscoroutinefunction(getattr(board_class, name)) == inspect.iscoroutinefunction(
        getattr(BoardAPI, name)
    ) or inspect.isasyncgenfunction(getattr(board_class, name))


def test_every_public_board_method_is_in_the_interface() -> None:
    public = {
        n
        for n, m in inspect.getmembers(Board)
        if not n.startswith("_") and (inspect.isfunction(m) or isinstance(m, property))
    }
    # the store underneath, for tools and tests; a local board's views as a participant;
    # archiving runs to files, done on the store's own machine (docs/audit.md)
    local_only = {"store", "acting_as", "login", "export_archive", "compact_run", "verify_archive"}
    assert public - set(API) == local_only


def test_sync_board_has_every_call_of_the_interface() -> None:
    missing = [
        n
        for n in API
        if n not in ("clock", "close", "limits", "subscribe", "principal", "idle_turn")
        and not hasattr(SyncBoard, n)
    ]
    assert missing == []


class InterfaceOnly:
    """Every call of the interface, delegated; anything else (the store) is refused."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self.calls: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name not in API:
            raise AttributeError(f"{name!r} is not part of the Board's interface")
        self.calls.add(name)
        return getattr(self._board, name)


def test_a_worker_and_an_orchestrator_need_nothing_but_the_interface(tmp_path: Path) -> None:
    async def main() -> None:
        board = Board.open(tmp_path / "b.db")
        try:
            remote = InterfaceOnly(board)
            run = await board.create_run(
                plan(task("a"), task("b", deps=("a",)), task("c", max_attempts=1))
            )

            def work(ctx: Any) -> dict[str, str]:
                if ctx.task.key == "c":
                    raise RuntimeError("c always breaks")
                ctx.post_message_sync("note", {"text": f"did {ctx.task.key}"})
                return {"did": ctx.task.key}

            worker = Worker(remote, {"worker": work}, name="w1", watchdog_tick_s=0.05)
            await asyncio.wait_for(worker.run(run_id=run.id), 30)
            await Orchestrator(remote).tick(run_id=run.id)
            assert (await board.get_run(run.id)).state is RunState.FAILED
            assert {"claim", "submit_and_claim", "fail", "briefing", "claim_duty"} <= remote.calls
            notes = await board.messages(run.id)
            assert sorted(m.payload["body"]["text"] for m in notes) == ["did a", "did b"]
        finally:
            await board.close()

    asyncio.run(main())
