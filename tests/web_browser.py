"""Real Chromium for the web board's tests: Debian's ``/usr/bin/chromium`` (installed by
``scripts/chromium.py``, run by ``make test``) driven by Playwright, against a real
``baton serve`` on a loopback port; and a TCP proxy the tests can cut, for a real
network drop between the browser and the server."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/chromium.py installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: object, url: str, token: str) -> None:
    page.goto(f"{url}/ui/login")  # type: ignore[attr-defined]
    page.fill("#token", token)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/$"))  # type: ignore[attr-defined]


class CuttableProxy:
    """A loopback TCP proxy to ``target``: :meth:`cut` closes every connection and
    refuses new ones (accepted, then closed at once) until :meth:`restore`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.lock = threading.Lock()
        self.live: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.live += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.live:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.live.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class OffThread:
    """A :class:`SyncBoard` used from a thread of its own: Playwright's sync API runs an
    event loop in the test's thread, where a SyncBoard cannot run its own. Every call
    is made in that thread and waited for; boards it returns are wrapped too."""

    def __init__(self, opener: Callable[[], Any], pool: ThreadPoolExecutor | None = None):
        self.pool = pool or ThreadPoolExecutor(1, thread_name_prefix="board")
        self.board = self.pool.submit(opener).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.board, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self.pool.submit(attr, *args, **kwargs).result()
            if type(result).__name__ == "SyncBoard":
                return OffThread(lambda: result, self.pool)
            return result

        return call

    def close(self) -> None:
        self.pool.submit(self.board.close).result()
        self.pool.shutdown()
