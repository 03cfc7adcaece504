"""A worker started while its store is unreachable waits for it instead of crashing."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from baton import Board
from baton.agents import FunctionAgent
from baton.model.errors import StoreUnavailable
from baton.runtime.worker import Worker

pytestmark = pytest.mark.anyio


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_worker_started_during_an_outage_waits_and_stops_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql://baton:secret@127.0.0.1:{closed_port()}/nothing"
    board = Board.open(url)
    worker = Worker(board, FunctionAgent(lambda ctx: {}, roles=["w"]), name="early")
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="baton.runtime.worker"):
        asyncio.get_running_loop().call_later(1.0, stop.set)
        await asyncio.wait_for(worker.run(run_id="r-1", stop=stop), timeout=30)
    await board.close()
    waits = [r for r in caplog.records if "store unavailable at start" in r.getMessage()]
    assert waits, "the worker should have waited for the store, saying so"
    assert "secret" not in caplog.text  # the password never reaches the log
    with pytest.raises(StoreUnavailable, match="unavailable"):
        await Board.open(url).get_run("r-1")
