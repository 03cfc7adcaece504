"""Any Python callable as an agent."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

from baton.model.errors import InvalidArgument
from baton.runtime.agents.context import TaskContext

AgentFn = Callable[[TaskContext], Any]


class FunctionAgent:
    """Wrap ``fn(ctx)`` (sync or async). A sync function runs in a thread, so a slow one
    does not stall the worker's heartbeats."""

    def __init__(self, fn: AgentFn, *, roles: Sequence[str], name: str | None = None) -> None:
        if isinstance(roles, str):
            roles = [roles]
        if not roles:
            raise InvalidArgument(f"agent {name or fn.__name__!r} serves no role")
        self.fn = fn
        self.roles: Sequence[str] = list(roles)
        self.name: str = name or str(getattr(fn, "__name__", "function-agent"))

    async def run(self, ctx: TaskContext) -> Any:
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(ctx)
        result = await _in_daemon_thread(self.fn, ctx)
        if inspect.isawaitable(result):
            return await result
        return result

    def __repr__(self) -> str:
        return f"FunctionAgent({self.name!r}, roles={self.roles})"


async def _in_daemon_thread(fn: AgentFn, ctx: TaskContext) -> Any:
    """Run ``fn(ctx)`` in a daemon thread. Unlike asyncio's default executor, a function
    that hangs past its timeout (threads cannot be cancelled) does not keep the process
    alive after the worker has stopped."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not done.done():
            (done.set_result if ok else done.set_exception)(value)

    def target() -> None:
        try:
            outcome = (True, fn(ctx))
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop may be closed by then
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, name=f"agent-{ctx.task.id}", daemon=True).start()
    return await done


def agent(
    role: str | None = None, *, roles: Sequence[str] = (), name: str | None = None
) -> Callable[[AgentFn], FunctionAgent]:
    """Decorator: ``@agent(role="backend")`` turns a function of the context into an agent."""
    served = [*([role] if role else []), *roles]

    def wrap(fn: AgentFn) -> FunctionAgent:
        return FunctionAgent(fn, roles=served, name=name)

    return wrap
