"""A real HTTP door for tests: ``baton serve``'s own :func:`serve` (FastAPI on uvicorn,
a real socket on a free loopback port) in a thread of the test process, so that it can
share the test's manual clock; tests of separate processes start ``baton serve`` itself
(:func:`start_serve_process`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from baton import Board
from baton.interfaces.http.server import ServeSettings, serve
from baton.model.participants import new_token

#: What the test door's owner token is (the server acts as the store's owner for it).
OWNER_TOKEN = new_token()


@dataclass
class Door:
    url: str
    owner_token: str
    stop: Callable[[], None]


@contextmanager
def served(
    store_url: str,
    *,
    clock: Callable[[], float] | None = None,
    settings: ServeSettings | None = None,
) -> Iterator[Door]:
    """Serve the store at ``store_url`` on a free loopback port until the block ends."""
    settings = settings or ServeSettings(owner_token=OWNER_TOKEN, keepalive_s=1.0)
    ready = threading.Event()
    found: list[str] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    main: list[asyncio.Task[None]] = []

    def on_ready(url: str) -> None:
        found.append(url)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            board = Board.open(store_url, clock=clock) if clock else Board.open(store_url)
            await serve(board, host="127.0.0.1", port=0, settings=settings, ready=on_ready)

        main.append(loop.create_task(go()))
        try:
            loop.run_until_complete(main[0])
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # reported to the test below
            failure.append(error)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="baton-serve", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise TimeoutError("the test server did not start within 30 s")
    if failure:
        raise failure[0]

    def stop() -> None:
        if main and not main[0].done():
            loop.call_soon_threadsafe(main[0].cancel)
        thread.join(10)

    try:
        yield Door(found[0], settings.owner_token or "", stop)
    finally:
        stop()


def start_serve_process(
    db: str, *, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``baton serve --db DB --port 0`` as its own process; returns it and its URL
    (read from the line it prints once it listens)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "serve", "--db", db, "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("http://"):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"baton serve did not start: {line!r} {err}")
    return proc, line.strip()
