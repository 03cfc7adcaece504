"""The agent that the many-hosts test's ``baton worker`` processes host
(``--agents tests.pgprocs.host_agents:AGENTS``).

It reports where it ran: the network namespace the test put its process in
(``BATON_HOST_NS``) and the address its host uses to reach the database server
(``BATON_HOST_SERVER``), which is that host's own address on the virtual network.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from baton.agents import TaskContext

WORK_S = 0.02


def _my_address() -> str:
    server = os.environ.get("BATON_HOST_SERVER", "127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((server, 5432))  # UDP: no packet is sent, the kernel just picks a route
        return str(s.getsockname()[0])


ADDRESS = _my_address()


async def work(ctx: TaskContext) -> dict[str, Any]:
    await asyncio.sleep(WORK_S)  # the work
    deps = sorted(d.output["host"] for d in ctx.dependencies.values())
    return {"host": os.environ.get("BATON_HOST_NS", "?"), "addr": ADDRESS, "saw": deps}


AGENTS = {"worker": work}
