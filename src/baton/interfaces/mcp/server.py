"""The one MCP server definition, whatever carries it: ``baton mcp`` over stdio and
``baton serve`` at ``/mcp`` over streamable HTTP both build it here, and differ only in
how a call finds its participant (:mod:`.callers`)."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from mcp.server.mcpserver import MCPServer

from baton.interfaces.mcp import resources
from baton.interfaces.mcp.callers import Caller
from baton.interfaces.mcp.registry import sdk_tools
from baton.interfaces.mcp.tools import TOOLS

INSTRUCTIONS = """\
You are a participant on a Baton board: a dependency graph of tasks shared by a team of
agents and people. Work it like this: find_ready_tasks (or just claim) for your roles;
claim takes one task atomically and returns a fencing token; read_task_context tells you
the goal, input, acceptance criteria, output contract, dependencies' outputs and review
feedback; do the work, calling heartbeat with the token before the lease expires; then
submit an output that fits the output contract (the errors come back if it does not:
claim the task again and fix them), or fail, block with a reason, or release it.
Messages (post_message, read_messages) reach the whole team; add_tasks hands new work to
other roles. Every call acts as you, and the board's rules decide what you may do."""


def _version() -> str:
    try:
        return version("baton")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def build_server(caller: Caller) -> MCPServer:
    """Baton's MCP server: every tool and resource, each call acting on the Board that
    ``caller`` finds for it."""
    # The SDK's constructor calls logging.basicConfig (a rich handler on the root
    # logger at INFO); the door leaves the process's logging as it found it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        server: MCPServer = MCPServer(
            "baton",
            title="Baton",
            instructions=INSTRUCTIONS,
            version=_version(),
            tools=sdk_tools(TOOLS, caller),
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    resources.register(server, caller)
    return server
