"""An attempt's context for a model, assembled to a token budget and recorded.

The pieces are what the board holds for this task — the task card (title, description,
input, acceptance criteria, review feedback, the dependencies' states), each
dependency's output, the run's messages, and the artifacts the task may read (its own
scope first, then its dependencies', the run's and its ancestors') — and
:func:`baton.views.context_budget.assemble` fits them into the budget, most relevant
first, naming what was left out. What went in (kinds, names, token counts) is recorded
on the attempt as a ``task.context`` event, so that a run's token spend can be
explained piece by piece.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from baton.model.artifacts import Artifact
from baton.views.context_budget import ContextAssembly, ContextPiece, PieceKind, assemble

if TYPE_CHECKING:
    from baton.runtime.agents.context import TaskContext

#: The most artifacts an assembly reads (the rest are listed by name as left out).
MAX_ARTIFACTS = 50

#: Artifacts by how close their scope is to the task (higher goes first).
_OWN, _DEPENDENCY, _RUN, _ANCESTOR = 3, 2, 1, 0


def _closeness(ctx: TaskContext, artifact: Artifact) -> int:
    if artifact.scope == ctx.task.id:
        return _OWN
    if artifact.scope in ctx.task.depends_on:
        return _DEPENDENCY
    return _RUN if artifact.scope is None else _ANCESTOR


async def pieces(ctx: TaskContext) -> list[ContextPiece]:
    """Everything this attempt could be shown, as pieces for :func:`assemble`."""
    card = ctx.card(outputs=False)
    out = [
        ContextPiece(
            kind=PieceKind.TASK,
            name=ctx.task.key,
            text=f"```json\n{json.dumps(card, indent=2, ensure_ascii=False, default=str)}\n```",
        )
    ]
    for key, dep in ctx.dependencies.items():
        value = dep.output if dep.error is None else {"error": dep.error, "output": dep.output}
        out.append(ContextPiece.of(PieceKind.DEPENDENCY_OUTPUT, key, value))
    role = ctx.task.reviewer_role if ctx.is_review else ctx.task.role
    for message in ctx.messages:
        to = message.payload.get("to")
        if to not in (None, ctx.participant, role):
            continue  # addressed to someone else
        body = {"from": message.actor, **message.payload}
        out.append(
            ContextPiece.of(
                PieceKind.MESSAGE, f"{message.kind} #{message.seq}", body, priority=message.seq
            )
        )
    # Only the scopes this task builds on, even for a participant who may read more
    # (steer, approve, context): a sibling's notes are not this task's context.
    ancestors: list[str] = []
    parent = ctx.task.parent_id
    while parent is not None and len(ancestors) < 100:
        ancestors.append(parent)
        parent = (await ctx.board.get_task(parent)).parent_id
    relevant = {None, ctx.task.id, *ctx.task.depends_on, *ancestors}
    listed = sorted(
        [a for a in await ctx.artifacts.list() if a.scope in relevant],
        key=lambda a: (_closeness(ctx, a), a.updated_at),
        reverse=True,
    )
    for artifact in listed[:MAX_ARTIFACTS]:
        found = await ctx.artifacts.read(artifact.name, scope=artifact.scope)
        priority = _closeness(ctx, artifact) * 1e10 + artifact.updated_at
        name = f"{artifact.address}@{found.version.version}"
        out.append(ContextPiece.of(PieceKind.ARTIFACT, name, found.content, priority=priority))
    for artifact in listed[MAX_ARTIFACTS:]:  # named, never read: the budget has no room
        out.append(
            ContextPiece(kind=PieceKind.ARTIFACT, name=artifact.address, text="", priority=-1)
        )
    return out


async def assemble_context(
    ctx: TaskContext, budget_tokens: int, *, record: bool = True
) -> ContextAssembly:
    """This attempt's context in at most ``budget_tokens`` tokens; with ``record``, its
    account is written on the attempt (``task.context``)."""
    assembly = assemble(await pieces(ctx), budget_tokens)
    if record:
        await ctx.board.record_context(
            ctx.task.id, ctx.lease.token, assembly.event_payload(), participant=ctx.participant
        )
    return assembly
