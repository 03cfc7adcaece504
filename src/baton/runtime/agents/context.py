"""What an agent is given to do its task, and the one protocol every agent implements."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from baton.model import Event, Lease, Run, Task, TaskSpec
from baton.model.effects import Effect, effect_key
from baton.model.errors import EffectUncertain, UsageError
from baton.model.states import TaskState
from baton.runtime.agents.assembly import assemble_context
from baton.runtime.agents.shared_work import Artifacts, Reservations
from baton.runtime.tracing import model_call_span, record_spend, tool_span
from baton.views.context_budget import ContextAssembly

T = TypeVar("T")

if TYPE_CHECKING:
    from baton.board import BoardAPI


@dataclass(frozen=True)
class DependencyResult:
    """A dependency as its dependent sees it: with ``on_failure=continue`` it may have failed."""

    key: str
    title: str
    state: TaskState
    output: Any
    error: dict[str, Any] | None

    @classmethod
    def of(cls, task: Task) -> DependencyResult:
        return cls(task.key, task.title, task.state, task.output, task.last_error)


@dataclass(frozen=True)
class BudgetLeft:
    """What the run (and the task) may still spend; ``None`` means unlimited."""

    tokens: int | None = None
    cost_usd: float | None = None


@dataclass
class TaskContext:
    """Everything an agent needs for one attempt, and the ways it may act on the board.

    Agents never touch the store: they read this, return an output (or raise), and may
    post messages, add tasks for other roles, record model usage or escalate to a human
    through the methods below — each a board call made with this attempt's lease.
    """

    task: Task
    lease: Lease
    run: Run
    board: BoardAPI
    dependencies: dict[str, DependencyResult] = field(default_factory=dict)
    messages: list[Event] = field(default_factory=list)
    tools: Sequence[Callable[..., Any]] = ()
    budget: BudgetLeft = field(default_factory=BudgetLeft)
    #: The worker's event loop, where ``*_sync`` methods run their board calls.
    loop: asyncio.AbstractEventLoop | None = None
    #: The attempt's tracing context (its span), which calls made from a sync agent's
    #: thread on the worker's loop would otherwise lose.
    trace_context: Any = None

    @property
    def input(self) -> dict[str, Any]:
        return self.task.input

    @property
    def feedback(self) -> list[dict[str, Any]]:
        """Review feedback from earlier rounds, oldest first (``items`` are the issues)."""
        return self.task.feedback

    @property
    def participant(self) -> str:
        return self.lease.owner

    @property
    def is_review(self) -> bool:
        return self.lease.kind.value == "review"

    @property
    def artifacts(self) -> Artifacts:
        """The run's versioned shared context, as this task reads and writes it
        (:class:`~baton.runtime.agents.shared_work.Artifacts`: read, write, update,
        list, diff)."""
        return Artifacts(self)

    @property
    def reservations(self) -> Reservations:
        """This task's reservations of paths and named resources (reserve, release)."""
        return Reservations(self)

    async def assemble_context(self, budget_tokens: int, *, record: bool = True) -> ContextAssembly:
        """This attempt's context fitted to ``budget_tokens`` (most relevant first, what
        did not fit named), recorded on the attempt as a ``task.context`` event; pass it
        to :meth:`prompt`. See :mod:`baton.runtime.agents.assembly`."""
        return await assemble_context(self, budget_tokens, record=record)

    def post_message(
        self, kind: str, body: Mapping[str, Any], *, to: str | None = None
    ) -> Coroutine[Any, Any, Event]:
        """Post a structured message on this run, from this task (await it).

        ``kind`` is one of the board's message kinds (``note``, ``question``, ``answer``,
        ``handoff``, ``blocked_by`` by default) and ``body`` must fit that kind's schema
        (see docs/agents.md, "Messages"); ``to`` names a participant or role, or
        ``None`` for everyone. A sync agent calls :meth:`post_message_sync` instead.
        """
        self._on_the_loop("post_message")
        return self.board.post_message(
            self.run.id, kind, body, sender=self.participant, to=to, task_id=self.task.id
        )

    def post_message_sync(
        self, kind: str, body: Mapping[str, Any], *, to: str | None = None
    ) -> Event:
        """:meth:`post_message` for a sync agent (a plain ``def``, run in a thread)."""
        return self._blocking(
            "post_message",
            self.board.post_message(
                self.run.id, kind, body, sender=self.participant, to=to, task_id=self.task.id
            ),
        )

    def _on_the_loop(self, method: str) -> None:
        """A sync agent runs in a thread with no event loop: calling an async method
        there would only make a coroutine nobody awaits. Say what to call instead."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError(
                f"ctx.{method}() is async; a sync agent calls ctx.{method}_sync(...) "
                f"instead (or make the agent 'async def' and await ctx.{method}(...))"
            ) from None

    def _blocking(self, method: str, call: Coroutine[Any, Any, T]) -> T:
        """Run a board call on the worker's event loop from a sync agent's thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            call.close()
            raise UsageError(
                f"ctx.{method}_sync() is for sync agents; an async agent awaits ctx.{method}(...)"
            )
        if self.loop is None:
            call.close()
            raise UsageError(f"ctx.{method}_sync() needs the worker's event loop (ctx.loop)")
        return asyncio.run_coroutine_threadsafe(call, self.loop).result()

    async def add_tasks(
        self,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[Task]:
        """Put new tasks on this run (for other roles, say); they may depend on existing
        tasks by their plan ids. Validated like a plan: all or nothing. The default key
        makes a retried attempt's repeat a no-op instead of a duplicate-id error."""
        key = idempotency_key or f"add_tasks:{self.task.id}:{','.join(_ids(tasks))}"
        return await self.board.add_tasks(
            self.run.id, tasks, actor=self.participant, idempotency_key=key
        )

    async def record_usage(
        self, *, model: str, input_tokens: int, output_tokens: int, cost_usd: float = 0.0
    ) -> None:
        model_call_span(
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            ids={"baton.run.id": self.run.id, "baton.task.id": self.task.id},
            context=self.trace_context,
        )
        record_spend(
            role=(self.task.reviewer_role if self.is_review else self.task.role) or self.task.role,
            run_id=self.run.id,
            model=model,
            tokens=input_tokens + output_tokens,
            cost_usd=cost_usd,
        )
        await self.board.record_usage(
            self.task.id,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            actor=self.participant,
            role=(self.task.reviewer_role if self.is_review else self.task.role),
        )

    async def escalate(self, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        """Ask a human for help; the run does not hang silently."""
        await self.board.escalate(
            self.run.id,
            "agent",
            reason,
            evidence=dict(evidence or {}),
            task_id=self.task.id,
            actor=self.participant,
        )

    async def ask_human(
        self,
        question: str,
        *,
        timeout_s: float = 3600.0,
        evidence: Mapping[str, Any] | None = None,
    ) -> str:
        """Ask a person and wait for the answer, holding the task (the worker keeps
        heartbeating the lease): an ``escalation.agent`` event carrying ``question``
        goes to every inbox with the ``answer`` grant (the web board, ``baton
        escalations``), and the first ``answer`` message naming its seq is returned.
        Set the task's ``timeout_s`` above ``timeout_s``, or the attempt is cut off first.

        Raises:
            TimeoutError: nobody answered within ``timeout_s``.
        """
        asked = await self.board.escalate(
            self.run.id, "agent", question, evidence=dict(evidence or {}),
            task_id=self.task.id, actor=self.participant,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        cursor = asked.seq
        while True:
            for event in await self.board.events(self.run.id, since=cursor, limit=1000):
                cursor = event.seq
                body = event.payload.get("body") or {}
                if event.kind == "message.answer" and body.get("question_seq") == asked.seq:
                    return str(body.get("answer", ""))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"nobody answered escalation #{asked.seq} in {timeout_s} s")
            await self.board.wait_for_change(cursor, min(remaining, 5.0))

    def add_tasks_sync(
        self,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[Task]:
        """:meth:`add_tasks` for a sync agent."""
        return self._blocking("add_tasks", self.add_tasks(tasks, idempotency_key=idempotency_key))

    def record_usage_sync(
        self, *, model: str, input_tokens: int, output_tokens: int, cost_usd: float = 0.0
    ) -> None:
        """:meth:`record_usage` for a sync agent."""
        self._blocking(
            "record_usage",
            self.record_usage(
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost_usd,
            ),
        )

    async def effect(self, step: str, fn: Callable[..., Any], *, repeat_safe: bool = False) -> Any:
        """Run a side effect on the world exactly once for this task (docs/effects.md):
        ``fn`` is called with the step's idempotency key if it takes an argument (pass
        it to the outside system where it takes one), its JSON result recorded on the
        board; a later attempt of the task gets the recorded result back instead of
        running ``fn`` again. If an earlier attempt started the step and never recorded
        it, :class:`EffectUncertain` is raised (the worker blocks the task for a person)
        — unless ``repeat_safe``, when ``fn`` runs again. ``fn`` may be async."""
        self._on_the_loop("effect")
        started = await self._start_effect(step, repeat_safe)
        if started is not None:
            return started.result
        key = effect_key(self.task.id, step)
        with tool_span(step, key):
            result = _call_with_key(fn, key)
            if inspect.isawaitable(result):
                result = await result
        await self._record_effect(step, result)
        return result

    def effect_sync(self, step: str, fn: Callable[..., Any], *, repeat_safe: bool = False) -> Any:
        """:meth:`effect` for a sync agent (``fn`` runs in the agent's thread)."""
        started = self._blocking("effect", self._start_effect(step, repeat_safe))
        if started is not None:
            return started.result
        key = effect_key(self.task.id, step)
        with tool_span(step, key):
            result = _call_with_key(fn, key)
        self._blocking("effect", self._record_effect(step, result))
        return result

    async def _start_effect(self, step: str, repeat_safe: bool) -> Effect | None:
        """The recorded effect if there is one; ``None`` when ``fn`` should run."""
        started = await self.board.start_effect(
            self.task.id, self.lease.token, step,
            participant=self.participant, repeat_safe=repeat_safe,
        )  # fmt: skip
        if started.decision == "recorded":
            return started.effect
        if started.decision == "uncertain":
            raise EffectUncertain(self.task.id, step, started.effect.started_by)
        return None

    async def _record_effect(self, step: str, result: Any) -> None:
        await self.board.record_effect(
            self.task.id, self.lease.token, step, result, participant=self.participant
        )

    def escalate_sync(self, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        """:meth:`escalate` for a sync agent."""
        self._blocking("escalate", self.escalate(reason, evidence))

    def card(self, *, outputs: bool = True) -> dict[str, Any]:
        """The task as plain JSON: what a model is shown (and what offline models read).
        Without ``outputs`` the dependencies' outputs and the messages are left to the
        budgeted assembly (:meth:`assemble_context`), which shows each on its own."""
        t = self.task
        card: dict[str, Any] = {
            "run_goal": self.run.goal,
            "task": t.key,
            "title": t.title,
            "description": t.description,
            "role": t.reviewer_role if self.is_review else t.role,
            "mode": "review" if self.is_review else "work",
            "input": t.input,
            "acceptance_criteria": t.acceptance_criteria,
            "dependencies": {
                k: {"state": d.state.value, "output": d.output, "error": d.error}
                if outputs
                else {"state": d.state.value, "error": d.error}
                for k, d in self.dependencies.items()
            },
            "review_feedback": [
                {"round": f["round"], "issues": f["items"]} for f in self.task.feedback
            ],
            "attempt": t.attempts,
        }
        if self.is_review:
            card["submitted_output"] = t.output
        if t.last_error and t.last_error.get("kind") == "contract_violation":
            card["previous_attempt_errors"] = t.last_error.get("errors", [])
        if self.messages and outputs:
            card["messages"] = [
                {"kind": m.kind, "from": m.actor, **m.payload} for m in self.messages[-20:]
            ]
        return card

    def prompt(self, context: ContextAssembly | None = None) -> str:
        """A model prompt for this attempt: the card (or the budgeted ``context``), in
        words a model can act on."""
        what = (
            "Review the submitted output against the acceptance criteria. Approve it, or "
            "reject it with specific issues to fix."
            if self.is_review
            else "Do this task and return output that fits the required schema."
        )
        if context is not None:
            return f"{what}\n\n{context.text}"
        return f"{what}\n\n```json\n{json.dumps(self.card(), indent=2, default=str)}\n```"


def _ids(tasks: Sequence[TaskSpec | Mapping[str, Any]]) -> list[str]:
    return [str(t.id if isinstance(t, TaskSpec) else t.get("id")) for t in tasks]


class Verdict(BaseModel):
    """A reviewer's decision: approve, or reject with the issues to fix."""

    approve: bool
    feedback: list[str] = []
    comment: str = ""


@runtime_checkable
class Agent(Protocol):
    """One small protocol: given a :class:`TaskContext`, return an output that fits the
    task's contract (a :class:`Verdict` for a review), or raise.

    Raise :class:`~baton.model.errors.RetryLater` (or any exception) for a retryable failure,
    :class:`~baton.model.errors.GiveUp` for a final one.
    """

    name: str
    roles: Sequence[str]

    async def run(self, ctx: TaskContext) -> Any: ...


def _call_with_key(fn: Callable[..., Any], key: str) -> Any:
    """``fn(key)`` if ``fn`` takes an argument, else ``fn()``."""
    try:
        takes = bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: give it the key
        takes = True
    return fn(key) if takes else fn()
