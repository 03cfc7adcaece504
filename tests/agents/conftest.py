"""Fixtures for the agent tests: they drive the async :class:`Board` directly (the
top-level ``board`` fixture is a ``SyncBoard``), and LLM agents talk to a scripted
OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from baton import Board
from tests.llm_server import ScriptedLLM


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def board(store_url: str) -> AsyncIterator[Board]:
    b = Board.open(store_url)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server
