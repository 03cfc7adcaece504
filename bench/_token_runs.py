"""The runs bench/tokens.py measures, read back from real boards.

Each example (``examples/``) and the bench's own team plan (``_token_team``) is worked
for real — real workers on a temporary SQLite board — and its event log is turned into
the *calls* a model would have been given: one per work attempt (``task.claim``) and one
per review (``task.review_claimed``), in the order the board handed them out, each with
what it was asked, what it answered, and what the board had to show it at that moment
(its dependencies' outputs, review feedback, the submitted work, messages, documents).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._token_team import AGENTS as TEAM_AGENTS
from bench._token_team import DOCUMENTS, team_plan
from bench._token_text import document, realistic_output

from baton import Board, Event, Task
from baton.views.context_budget import render_value

#: The events that end an attempt (work or review) with its answer or its failure.
ENDS = frozenset(
    {
        "task.complete", "task.submit_for_review", "task.submit_for_approval",
        "task.expand", "task.retry", "task.fail", "task.release", "task.block",
        "task.approve", "task.approve_to_gate", "task.reject", "task.reject_final",
        "task.review_released", "task.review_failed", "task.review_lease_expired",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Message:
    seq: int
    text: str
    to: str | None
    name: str  # "#seq kind from actor"


@dataclass
class Call:
    """One model call: a work attempt or a review, and what it could be shown."""

    seq: int  # the claim's
    done_seq: int  # when its answer landed (the claim's seq if it never did)
    task_id: str
    task: str  # plan-local id
    role: str  # who acts: the task's role, or its reviewer's for a review
    review: bool
    token: int
    instructions: str  # the task as the board states it
    criteria: str
    output: str = ""  # the answer, sized like a model's
    deps: list[tuple[str, str]] = field(default_factory=list)  # (dependency, its output)
    feedback: list[tuple[str, str]] = field(default_factory=list)  # (round, the verdict)
    submitted: str | None = None  # the work under review, or the work being redone
    documents: list[str] = field(default_factory=list)  # names of those in its scope


@dataclass
class BenchRun:
    name: str
    goal: str
    tasks: int
    calls: list[Call]
    messages: list[Message]
    documents: dict[str, str]  # name -> text
    opening: list[str]  # the instructions of the tasks the run started with
    added: list[tuple[int, str]]  # (seq, instructions) of tasks added while it ran (by
    # a peer: a sub-plan's tasks are already in its planner's answer)
    events: list[Event]  # the whole log, for readers of recorded events


def task_text(task: Task, *, review: bool) -> str:
    """The task as a model is asked it (criteria apart): what ``TaskContext.card`` says."""
    card: dict[str, Any] = {"task": task.key, "title": task.title, "role": task.role}
    if task.description:
        card["description"] = task.description
    if task.input:
        card["input"] = task.input
    if task.output_contract:
        card["output_contract"] = task.output_contract
    what = (
        "Review the submitted output against the acceptance criteria. Approve it, or "
        "reject it with specific issues to fix."
        if review
        else "Do this task and return output that fits the required schema."
    )
    return f"{what}\n{render_value(card)}"


def criteria_text(task: Task) -> str:
    return "\n".join(f"- {c}" for c in task.acceptance_criteria)


def from_log(
    name: str,
    tasks: Iterable[Task],
    events: Sequence[Event],
    documents: Mapping[str, str],
    *,
    sized: bool = True,
) -> BenchRun:
    """The calls of one run, from its tasks and its event log; with ``sized`` each
    answer is made the size of a model's (``_token_text``), else kept as recorded."""

    def answer(key: str, role: str, real: str, *, review: bool = False) -> str:
        return realistic_output(key, role, real, review=review) if sized else real

    by_id = {t.id: t for t in tasks}
    first_claim = next((e.seq for e in events if e.kind == "task.claim"), 0)
    calls: list[Call] = []
    open_calls: dict[tuple[str, int], Call] = {}
    last_output: dict[str, str] = {}  # task id -> its latest accepted or submitted work
    feedback: dict[str, list[tuple[str, str]]] = {}
    messages: list[Message] = []
    added: list[tuple[int, str]] = []
    opening: list[str] = []
    for e in events:
        p = e.payload
        task = by_id.get(e.task_id or "")
        if e.kind.startswith("message."):
            body = render_value(p.get("body"))
            kind = e.kind.removeprefix("message.")
            messages.append(Message(e.seq, body, p.get("to"), f"#{e.seq} {kind} from {e.actor}"))
        if task is None:
            continue
        if e.kind == "task.created":
            text = f"{task_text(task, review=False)}\n{criteria_text(task)}"
            if e.seq < first_claim:
                opening.append(text)
            elif task.parent_id is None:  # a sub-plan's tasks are its planner's answer
                added.append((e.seq, text))
        elif e.kind in ("task.claim", "task.review_claimed"):
            review = e.kind == "task.review_claimed"
            call = Call(
                seq=e.seq,
                done_seq=e.seq,
                task_id=task.id,
                task=task.key,
                role=(task.reviewer_role or task.role) if review else task.role,
                review=review,
                token=int(p.get("token", 0)),
                instructions=task_text(task, review=review),
                criteria=criteria_text(task),
                deps=[
                    (by_id[d].key, last_output[d])
                    for d in task.depends_on
                    if d in last_output and d in by_id
                ],
                feedback=list(feedback.get(task.id, [])),
                submitted=last_output.get(task.id) if (review or feedback.get(task.id)) else None,
                documents=list((task.input or {}).get("documents", [])),
            )
            calls.append(call)
            open_calls[(task.id, call.token)] = call
        elif e.kind not in ENDS:
            continue
        elif (call := open_calls.pop((task.id, int(p.get("token", -1))), None)) is not None:
            call.done_seq = e.seq
            key = f"{name}/{task.key}/{call.token}"
            if call.review:
                verdict = {
                    "approve": e.kind.startswith("task.approve"),
                    "feedback": p.get("feedback", []),
                    "comment": p.get("comment", ""),
                }
                call.output = answer(key, call.role, render_value(verdict), review=True)
                if e.kind.startswith("task.reject"):
                    rounds = feedback.setdefault(task.id, [])
                    rounds.append((f"round {len(rounds) + 1}", call.output))
            elif "output" in p:
                call.output = answer(key, call.role, render_value(p["output"]))
                last_output[task.id] = call.output
            else:  # a failed attempt: its error is what it said
                call.output = render_value(p.get("error") or {"released": e.kind})
    return BenchRun(
        name=name,
        goal=str(events[0].payload.get("goal", "")) if events else "",
        tasks=len(by_id),
        calls=calls,
        messages=messages,
        documents=dict(documents),
        opening=opening,
        added=added,
        events=list(events),
    )


# -- working the runs --------------------------------------------------------------------

Runner = Callable[[str], Awaitable[Any]]


async def _examples(folder: Path, sized: bool) -> list[BenchRun]:
    from examples.content_pipeline.run import run_example as content
    from examples.feature_team.run import run_example as feature_team
    from examples.hierarchy.run import run_example as hierarchy
    from examples.payment_flow.run import run_example as payments
    from examples.support_triage.run import run_example as triage

    runs: list[BenchRun] = []
    pattern: dict[str, Runner] = {
        "content_pipeline": content,
        "hierarchy": hierarchy,
        "payment_flow": payments,
        "support_triage": triage,
    }
    for example, runner in pattern.items():
        result = await runner(str(folder / f"{example}.db"))
        for label, rec in result.runs.items():
            name = example if len(result.runs) == 1 else f"{example}/{label}"
            runs.append(from_log(name, rec.tasks.values(), rec.events, {}, sized=sized))
    team = await feature_team(str(folder / "feature_team.db"))
    runs.append(from_log("feature_team", team.tasks, team.events, {}, sized=sized))
    return runs


async def _team(folder: Path, modules: int, sized: bool) -> BenchRun:
    from examples._shared import register, work_run, workers_for

    board = Board.open(str(folder / f"team-{modules}.db"))
    try:
        plan = team_plan(modules)
        run = await board.create_run(
            plan, run_id=f"team{modules}-{secrets.token_hex(2)}", actor="lead"
        )
        team = [(f"{role}-agent", agent) for role, agent in TEAM_AGENTS.items()]
        workers = await workers_for(board, team, tokens=await register(board, team))
        rec = await work_run(board, run.id, workers, timeout=600)
    finally:
        await board.close()
    docs = {name: document(name, size) for name, size in DOCUMENTS.items()}
    return from_log(f"team/{modules} modules", rec.tasks.values(), rec.events, docs, sized=sized)


def collect(sizes: Sequence[int], *, examples: bool = True, sized: bool = True) -> list[BenchRun]:
    """Work every example and the team plan at each size; their calls."""

    async def go() -> list[BenchRun]:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            runs = await _examples(folder, sized) if examples else []
            for modules in sizes:
                runs.append(await _team(folder, modules, sized))
            return runs

    return asyncio.run(go())
