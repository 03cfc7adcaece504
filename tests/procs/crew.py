"""The worker processes of a kill test: start them, SIGKILL and replace them, clean up.

Shared by the SQLite crash test and the PostgreSQL chaos test. Worker 0 is never killed
and stalls often, so that the fencing path runs every time; the others stall with
``stall_p`` and are the killer's targets.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from baton import Event


class Crew:
    """``work(url, run_id, name, stats_path, seed, stall_p, lease_s)`` in each process."""

    def __init__(
        self,
        work: Callable[..., Any],
        preload: str,
        *,
        workers: int,
        lease_s: float,
        stall_p: float,
        url_for: Callable[[str], str],
        run_id: str,
        stats_dir: Path,
        rng: random.Random,
    ) -> None:
        self.ctx = multiprocessing.get_context("forkserver")
        # Replacements fork from a server that has already imported baton: they join
        # the race in milliseconds instead of a fresh interpreter's 300 ms.
        self.ctx.set_forkserver_preload([preload])
        self.work, self.workers, self.lease_s, self.stall_p = work, workers, lease_s, stall_p
        self.url_for, self.run_id, self.stats_dir, self.rng = url_for, run_id, stats_dir, rng
        self.live: dict[int, BaseProcess] = {}  # slot -> process
        self.names: dict[int, str] = {}
        self.killed: dict[str, int] = {}  # name -> last seq committed before it died
        self.spawned = 0

    def start_all(self) -> None:
        for slot in range(self.workers):
            self.start(slot)

    def start(self, slot: int) -> None:
        name = f"w{slot}.{self.spawned}"
        self.spawned += 1
        args = (
            self.url_for(name),
            self.run_id,
            name,
            str(self.stats_dir / f"{name}.jsonl"),
            self.rng.randrange(2**32),
            0.35 if slot == 0 else self.stall_p,
            self.lease_s,
        )
        proc = self.ctx.Process(target=self.work, args=args, name=name, daemon=True)
        proc.start()
        self.live[slot], self.names[slot] = proc, name

    def check_alive(self) -> None:
        """A worker stops on its own only when it sees the run finished (exit code 0)."""
        for slot, proc in self.live.items():
            assert proc.exitcode in (None, 0), f"{self.names[slot]} died ({proc.exitcode})"

    def kill_one(self, on_killed: Callable[[str], None]) -> None:
        """SIGKILL a random running worker (not worker 0), tell ``on_killed`` its name,
        and start a replacement."""
        self.check_alive()
        running = [s for s in range(1, self.workers) if self.live[s].exitcode is None]
        if not running:
            return
        slot = self.rng.choice(running)
        proc, name = self.live[slot], self.names[slot]
        proc.kill()  # SIGKILL
        proc.join()
        if proc.exitcode == 0:  # it saw the run finish and left just before the kill
            return
        assert proc.exitcode == -9
        proc.close()
        on_killed(name)
        self.start(slot)

    def assert_the_dead_wrote_nothing(self, events: list[Event], reaper_prefix: str = "") -> None:
        """No event of a killed worker (or of its reaper, named ``reaper_prefix`` + its
        name) came after the last seq seen once it was dead."""
        for name, seq_at_death in self.killed.items():
            actors = {name, f"{reaper_prefix}{name}"} if reaper_prefix else {name}
            late = [e for e in events if e.actor in actors]
            assert all(e.seq <= seq_at_death for e in late), name

    def expired_of_killed(self, expired: list[Event]) -> int:
        """How many of the lease expiries ``expired`` were of killed holders."""
        return sum(e.payload["error"]["owner"] in self.killed for e in expired)

    def assert_the_kills_hit(self, expired: list[Event]) -> None:
        """The test proved something: workers were killed, some while holding leases."""
        assert self.killed, "nobody was killed: the test proved nothing"
        assert self.expired_of_killed(expired), (
            "no lease of a killed worker expired: the kills never hit a holder"
        )

    def finish(self, timeout: float) -> dict[str, int | None]:
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for slot, proc in self.live.items():
            proc.join(max(0.0, deadline - time.monotonic()))
            codes[self.names[slot]] = proc.exitcode
        return codes

    def kill_all(self) -> None:
        for proc in self.live.values():
            if proc.exitcode is None:
                proc.kill()
            proc.join()
            proc.close()
        self.live.clear()
