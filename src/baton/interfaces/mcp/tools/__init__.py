"""The MCP door's tools, one module per group. :data:`TOOLS` is every tool the server
offers, in the order a client lists them; a new group is a module with its own
``TOOLS`` list, added here."""

from __future__ import annotations

from typing import Any

from baton.interfaces.mcp.registry import BoardTool
from baton.interfaces.mcp.tools import messages, reading, review, shared_work, tasks, work

TOOLS: list[BoardTool[Any]] = [
    *work.TOOLS,
    *reading.TOOLS,
    *review.TOOLS,
    *messages.TOOLS,
    *tasks.TOOLS,
    *shared_work.TOOLS,
]
