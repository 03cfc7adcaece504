"""Tools as data: a :class:`BoardTool` is a name, a pydantic model for its input and an
async function of the caller's Board and that input.

Why: a group of tools is then one short module (see :mod:`.tools`), and every tool gets
the same plumbing here, once — its input schema from its model (flat, so a client shows
the model's fields as the tool's arguments, and unknown arguments are refused), the
Board acting as the caller, its result as JSON, a :class:`BatonError` as a tool error.
Adding a tool is a model, a decorated function and one line in its group's ``TOOLS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import ConfigDict

from baton.board import BoardAPI
from baton.interfaces.mcp.callers import Caller, Ctx
from baton.interfaces.mcp.results import answer, refused
from baton.model.errors import BatonError


class Args(ArgModelBase):
    """The base of every tool's input model. It is the SDK's argument model (so the SDK
    validates calls against it directly, JSON-in-a-string arguments included), with
    unknown fields refused: a misspelt argument is an error the agent reads, not a
    value silently dropped."""

    model_config = ConfigDict(extra="forbid")


A = TypeVar("A", bound=Args)
Handler = Callable[[BoardAPI, A], Awaitable[Any]]


@dataclass(frozen=True)
class BoardTool(Generic[A]):
    """One MCP tool: what it is called, what it takes, what it does on the Board."""

    name: str
    args: type[A]
    run: Handler[A]
    description: str
    #: Reads only (a hint clients use to call it without asking).
    read_only: bool = False


def board_tool(
    name: str, args: type[A], *, read_only: bool = False
) -> Callable[[Handler[A]], BoardTool[A]]:
    """Declare a tool: the decorated function's docstring is its description, the text
    the agent reads to decide when to call it."""

    def declare(run: Handler[A]) -> BoardTool[A]:
        doc = " ".join((run.__doc__ or name).split())
        return BoardTool(name, args, run, doc, read_only)

    return declare


def sdk_tool(tool: BoardTool[Any], caller: Caller) -> Tool:
    """``tool`` as the SDK registers it, acting on the Board ``caller`` finds."""

    async def call(ctx: Ctx, **fields: Any) -> CallToolResult:
        try:
            board = await caller(ctx)
            return answer(await tool.run(board, tool.args.model_validate(fields)))
        except BatonError as error:
            return refused(error)

    return Tool(
        fn=call,
        name=tool.name,
        description=tool.description,
        parameters=tool.args.model_json_schema(by_alias=True),
        fn_metadata=FuncMetadata(arg_model=tool.args),
        is_async=True,
        context_kwarg="ctx",
        annotations=ToolAnnotations(read_only_hint=tool.read_only, open_world_hint=False),
    )


def sdk_tools(tools: Sequence[BoardTool[Any]], caller: Caller) -> list[Tool]:
    return [sdk_tool(t, caller) for t in tools]
