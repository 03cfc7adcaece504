"""Resources: a run's narration and a task's context, for clients that attach context
by URI instead of calling a tool. Read as the caller, like every tool.

A task id holds a ``/`` (``run/key``), hence the reserved expansion ``{+task_id}``:
``baton://tasks/r1/draft/context``.
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from baton.interfaces.http.problems import problem
from baton.interfaces.mcp.callers import Caller, Ctx
from baton.interfaces.mcp.views import narration, task_context
from baton.model.errors import BatonError, NotFound

NARRATION = "baton://runs/{run_id}/narration"
CONTEXT = "baton://tasks/{+task_id}/context"


def _unreadable(error: BatonError) -> ResourceError:
    """A Baton error as the SDK's resource error (its message reaches the client; a
    run the caller may not see reads as one that does not exist, as in every door)."""
    _, body = problem(error)
    text = f"{body['code']}: {body['detail']}"
    return ResourceNotFoundError(text) if body["code"] == NotFound.__name__ else ResourceError(text)


def register(server: MCPServer, caller: Caller) -> None:
    """Add the resources to ``server``, each read on the Board ``caller`` finds."""

    @server.resource(
        NARRATION,
        name="run-narration",
        title="Run narration",
        description="The run in plain words: what is done, waiting, in review, unclaimed.",
        mime_type="text/plain",
    )
    async def run_narration(run_id: str, ctx: Ctx) -> str:
        try:
            return await narration(await caller(ctx), run_id)
        except BatonError as error:
            raise _unreadable(error) from None

    @server.resource(
        CONTEXT,
        name="task-context",
        title="Task context",
        description="What read_task_context returns for the task, as JSON.",
        mime_type="application/json",
    )
    async def context(task_id: str, ctx: Ctx) -> str:
        try:
            found = await task_context(await caller(ctx), task_id)
        except BatonError as error:
            raise _unreadable(error) from None
        return json.dumps(found, indent=2, ensure_ascii=False, default=str)
