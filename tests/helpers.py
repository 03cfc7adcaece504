"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def task(
    tid: str, role: str = "worker", deps: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    return {"id": tid, "role": role, "depends_on": list(deps), **extra}


def plan(*tasks: dict[str, Any], roles: tuple[str, ...] = ("worker", "reviewer")) -> dict[str, Any]:
    return {"goal": "test goal", "roles": list(roles), "tasks": list(tasks)}


#: The tables that hold the event log and its counters/chain head: left out when a test
#: proves a refused call changed nothing but the log.
EVENT_TABLES = ("events", "event_counter", "event_chain")
