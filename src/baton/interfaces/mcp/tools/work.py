"""Working a task: find what is claimable, claim it, keep the lease alive, and hand
the attempt in — submit, fail, block or release — with the lease's fencing token.

The token is the agent's to keep (it comes back from ``claim``): the door does not
remember leases, so a stale attempt is fenced off by the Board exactly as it is for a
worker (``LeaseLost``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool
from baton.interfaces.mcp.views import after_submit, lease_view, ready_tasks, where_now
from baton.model import Task

TaskId = Field(description="The task's id, written run/key (e.g. 'r1/draft').")
Token = Field(description="The fencing token your claim returned.")
LeaseS = Field(
    default=None,
    gt=0,
    description="Seconds the lease lasts (default: the task's lease_s); renew it with heartbeat.",
)


def _moved(task: Task) -> dict[str, Any]:
    return {"task_id": task.id, "state": task.state.value, "now": where_now(task)}


class FindReady(Args):
    roles: list[str] = Field(
        default_factory=list, description="Roles to look for (default: every role you have)."
    )
    run_id: str | None = Field(default=None, description="Only this run (default: every run).")
    limit: int = Field(default=20, ge=1, le=500, description="At most this many tasks.")


@board_tool("find_ready_tasks", FindReady, read_only=True)
async def find_ready_tasks(board: BoardAPI, args: FindReady) -> dict[str, Any]:
    """List the tasks you could claim for your roles, best first (the order claim takes
    them in): ready work, and submitted work waiting for a reviewer role you have."""
    return await ready_tasks(board, args.roles, args.run_id, args.limit)


class Claim(Args):
    roles: list[str] = Field(
        default_factory=list, description="Claim for these roles (default: every role you have)."
    )
    run_id: str | None = Field(default=None, description="Only from this run.")
    lease_s: float | None = LeaseS


@board_tool("claim", Claim)
async def claim(board: BoardAPI, args: Claim) -> dict[str, Any]:
    """Atomically take the best claimable task for your roles: you get a lease (work,
    or review for a reviewer role) with a fencing token that every later call about the
    task must carry. Nobody else can claim it while the lease lives; heartbeat to keep
    it. Returns claimed=false when nothing is claimable."""
    roles = args.roles or sorted(board.principal.roles)
    lease = await board.claim(board.principal.id, roles, run_id=args.run_id, lease_s=args.lease_s)
    if lease is None:
        where = f" in run {args.run_id}" if args.run_id else ""
        return {"claimed": False, "why": f"nothing claimable for {', '.join(roles)}{where} now"}
    return lease_view(lease)


class Heartbeat(Args):
    task_id: str = TaskId
    token: int = Token
    lease_s: float | None = LeaseS


@board_tool("heartbeat", Heartbeat)
async def heartbeat(board: BoardAPI, args: Heartbeat) -> dict[str, Any]:
    """Extend your lease on a task you are working (call it well before expires_at).
    LeaseLost means the task is no longer yours: stop working on it."""
    lease = await board.heartbeat(
        args.task_id, args.token, board.principal.id, lease_s=args.lease_s
    )
    return {"task_id": lease.task.id, "token": lease.token, "expires_at": lease.expires_at}


class Submit(Args):
    task_id: str = TaskId
    token: int = Token
    output: Any = Field(
        description="The task's output: JSON that fits its output_contract (read_task_context)."
    )


@board_tool("submit", Submit)
async def submit(board: BoardAPI, args: Submit) -> dict[str, Any]:
    """Hand in your output. It is checked against the task's output contract: if it
    breaks it, the error lists every violation and the attempt counts as failed (the
    task is retried: claim it again). Otherwise the task goes to review, to its approval
    gate, or straight to done, as its spec says."""
    task = await board.submit(args.task_id, args.token, args.output, participant=board.principal.id)
    return {**_moved(task), "after_submit": after_submit(task)}


class Fail(Args):
    task_id: str = TaskId
    token: int = Token
    error: str = Field(min_length=1, description="What went wrong, for the next attempt.")
    retryable: bool = Field(
        default=True, description="false: this task cannot succeed, fail it for good."
    )


@board_tool("fail", Fail)
async def fail(board: BoardAPI, args: Fail) -> dict[str, Any]:
    """Give up this attempt: the task is retried after a backoff, or fails for good when
    retryable is false or it has used its attempts (its dependents then follow its
    failure policy)."""
    task = await board.fail(
        args.task_id,
        args.token,
        args.error,
        participant=board.principal.id,
        retryable=args.retryable,
    )
    return _moved(task)


class Block(Args):
    task_id: str = TaskId
    token: int = Token
    reason: str = Field(min_length=1, description="What the task waits for, and from whom.")


@board_tool("block", Block)
async def block(board: BoardAPI, args: Block) -> dict[str, Any]:
    """Stop work on the task until someone unblocks it (you give the lease up): for
    work that cannot go on without a person or another team."""
    task = await board.block(args.task_id, args.token, args.reason, participant=board.principal.id)
    return _moved(task)


class Release(Args):
    task_id: str = TaskId
    token: int = Token


@board_tool("release", Release)
async def release(board: BoardAPI, args: Release) -> dict[str, Any]:
    """Give the claim back without counting an attempt (you are stopping): the task is
    claimable again at once."""
    task = await board.release(args.task_id, args.token, participant=board.principal.id)
    return _moved(task)


TOOLS: list[BoardTool[Any]] = [
    find_ready_tasks,
    claim,
    heartbeat,
    submit,
    fail,
    block,
    release,
]
