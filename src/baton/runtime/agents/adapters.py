"""Adapters: another framework's unit of work as a Baton agent.

A pydantic-ai ``Agent`` or a LangGraph compiled graph keeps doing what it does; Baton
gives it a claimed task, keeps its lease alive, and checks and records what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic_ai import Agent as PydanticAgent

from baton.runtime.agents.context import TaskContext


def _plain(output: Any) -> Any:
    return output.model_dump(mode="json") if isinstance(output, BaseModel) else output


class PydanticAIAgent:
    """Run an existing ``pydantic_ai.Agent`` on each task; its usage is recorded."""

    def __init__(
        self,
        agent: PydanticAgent[None, Any],
        *,
        roles: Sequence[str],
        name: str | None = None,
        prompt: Callable[[TaskContext], str] | None = None,
    ) -> None:
        self.agent = agent
        self.roles: Sequence[str] = [roles] if isinstance(roles, str) else list(roles)
        self.name: str = name or agent.name or "pydantic-ai-agent"
        self._prompt = prompt or TaskContext.prompt

    async def run(self, ctx: TaskContext) -> Any:
        result = await self.agent.run(self._prompt(ctx))
        usage = result.usage
        model = self.agent.model
        await ctx.record_usage(
            model=getattr(model, "model_name", str(model)),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
        return _plain(result.output)


class _Invocable(Protocol):
    async def ainvoke(self, input: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class LangGraphAgent:
    """Run a LangGraph compiled graph on each task.

    ``to_state`` builds the graph's input from the context (default: ``{"task": card,
    "input": input}``); ``from_state`` picks the output from the final state (default:
    its ``"output"`` key).
    """

    def __init__(
        self,
        graph: _Invocable,
        *,
        roles: Sequence[str],
        name: str = "langgraph-agent",
        to_state: Callable[[TaskContext], dict[str, Any]] | None = None,
        from_state: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.graph = graph
        self.roles: Sequence[str] = [roles] if isinstance(roles, str) else list(roles)
        self.name: str = name
        self._to_state = to_state or (lambda ctx: {"task": ctx.card(), "input": ctx.input})
        self._from_state = from_state or (lambda state: state["output"])

    async def run(self, ctx: TaskContext) -> Any:
        state = await self.graph.ainvoke(self._to_state(ctx))
        return _plain(self._from_state(dict(state)))
