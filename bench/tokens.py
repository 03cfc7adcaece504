"""Token benchmark: how many tokens the agents of a run are given, under Baton's scoped,
budgeted context against the two usual ways of running the same work.

    .venv/bin/python bench/tokens.py [--quick] [--json] [--budget 8000] [--sizes 2,8,32,128]

**The runs.** Every example in ``examples/`` (content pipeline, hierarchy, payment flow
x2, support triage x2, feature team) and the bench's own team plan (``_token_team``:
planner → coders, each reviewed → testers → integrators → writer, reviewed → ops, with
three shared documents) at several sizes are worked for real on temporary SQLite boards
by their deterministic agents. Each run's event log gives its *calls*: one per work
attempt and one per review, in the order the board handed them out, with what each was
asked and what it answered (``_token_runs``). The scripted agents' answers are small
JSON; a model's are not, so every answer is the real one followed by seeded filler up to
a size typical for its role — ~1,200 tokens of code for a coder, ~250 for a review,
~900 for a doc page, the real sub-plan for a planner (``_token_text.OUTPUT_TOKENS``).
The same answers are used in all three models below. Tokens are ``o200k_base``
(``baton.views.tokens``), counted per text and summed.

**What each call is given** (input tokens; every call also gets its role's system
prompt, ``LLMAgent``'s default, in all three models):

(a) **Baton**: the call's context assembled by ``baton.views.context_budget.assemble``
    to ``--budget`` tokens: its task and acceptance criteria, review feedback, the work
    under review (or being redone), its dependencies' outputs, the messages in its scope
    (to everyone, or to its role) and the documents in its scope (those its task names).
    Nothing else: not the other tasks, not their outputs. :func:`baton_call_tokens` is
    the seam — today it *models* the assembly with the view; once the runtime records
    the assembly on each attempt (``task.context`` events) it reads those instead
    (:func:`recorded_baton_tokens`; ``--recorded``).
(b) **Group chat** (the common multi-agent baseline, e.g. a round-robin group chat):
    every turn is given the whole transcript so far — the opening message (the goal,
    every task's instructions, the shared documents), every earlier turn's hand-off line
    and answer, every message, every task a peer added since (a sub-plan's tasks are
    already in its planner's answer) — and its own turn line. The
    speaker-selection call a chat manager makes per turn is *not* counted (it would
    roughly double this figure), so this baseline is a lower bound.
(c) **Single agent**: one agent does every call of the run, in the same order, in one
    conversation: its system prompt, the goal and the shared documents once, then per
    call its instructions and its answer. Each call re-sends the conversation so far.
    Reviews stay in (as self-review) so that all three do the same work. It gets no
    messages (it has nobody to talk to). ``single distinct`` is that conversation's
    final length — what the single agent costs if every re-sent prefix were free (a
    perfect prompt cache); real caches bill cached tokens at 10-50%, so the single
    agent's money cost lies between the two single-agent figures.

**Read the figures with this in mind.** A single agent's calls grow with the run (each
re-sends everything before it), Baton's do not (each is one task's scope, and never more
than the budget): ``per call`` shows it at every size, and ``largest call`` shows when a
single agent's conversation no longer fits any model's context window at all (where a
real single agent would have to drop or summarise history). Baton's smaller contexts
are only a saving if they hold what the task needs: ``summarised/left out`` counts the
pieces that did not fit whole (each is named in the context, with its size).

**The JSON.** The headline (``single_agent_tokens``, ``group_chat_tokens``,
``baton_tokens``, ``baton_ratio_to_single``, ``group_chat_ratio_to_single``) sums the
example runs; ``all_runs`` adds the team plan at every size, ``team_sizes`` is the
scaling series and ``per_run`` has every figure of every run. The examples' workers run
concurrently, so the order of calls (and the number of support triage's retries while
billing waits for technical) varies a little from one run to the next: about 1%.
With ``--recorded`` the answers are kept as the agents gave them and Baton's tokens are
read from each run's ``task.context`` events where it recorded them.

Target (issue 14): Baton at most 1.3 times a single agent's tokens; the background essays
report multi-agent coordination at about 4 times a single agent's.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's ``http`` if this folder stayed first
# on sys.path; the repository root goes there instead (for ``examples`` and ``bench``).
if sys.path and sys.path[0].endswith("bench"):
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench._token_runs import BenchRun, Call, collect
from rich.console import Console
from rich.table import Table

from baton.views.context_budget import ContextAssembly, ContextPiece, PieceKind, assemble
from baton.views.tokens import ENCODING_NAME, count_tokens

DEFAULT_BUDGET = 8_000
SIZES = [2, 8, 32, 128]
QUICK_SIZES = [2, 8]
#: The event the runtime records each attempt's assembly in (its payload: an
#: ``AssemblyRecord`` — ``tokens`` or ``total_tokens`` — and the attempt's ``token``).
ASSEMBLY_EVENT = "task.context"

SINGLE_SYSTEM = (
    "You are the engineer doing this whole job yourself, one task after another, in "
    "this conversation. Answer each task in full."
)


def system_prompt(role: str) -> str:
    """``LLMAgent``'s default instructions for a role."""
    return (
        f"You are the {role} agent on a team coordinated through a shared task board. "
        "Answer only through the required output schema."
    )


class Counts:
    """Token counts, each text counted once."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        n = self._seen.get(text)
        if n is None:
            n = self._seen[text] = count_tokens(text)
        return n


# -- (a) Baton ---------------------------------------------------------------------------


def baton_pieces(run: BenchRun, call: Call) -> list[ContextPiece]:
    """What Baton shows one call: its task's scope, nothing of the rest of the run."""
    pieces = [ContextPiece(kind=PieceKind.TASK, name=call.task, text=call.instructions)]
    if call.criteria:
        pieces.append(ContextPiece(kind=PieceKind.ACCEPTANCE_CRITERIA, name="", text=call.criteria))
    for n, (label, verdict) in enumerate(call.feedback):
        pieces.append(
            ContextPiece(kind=PieceKind.REVIEW_FEEDBACK, name=label, text=verdict, priority=n)
        )
    if call.submitted is not None:
        label = "the submitted work" if call.review else "your previous submission"
        pieces.append(
            ContextPiece(
                kind=PieceKind.DEPENDENCY_OUTPUT, name=label, text=call.submitted, priority=1
            )
        )
    pieces.extend(
        ContextPiece(kind=PieceKind.DEPENDENCY_OUTPUT, name=dep, text=out) for dep, out in call.deps
    )
    pieces.extend(
        ContextPiece(kind=PieceKind.MESSAGE, name=m.name, text=m.text, priority=m.seq)
        for m in run.messages
        if m.seq < call.seq and m.to in (None, call.role)
    )
    pieces.extend(
        ContextPiece(kind=PieceKind.ARTIFACT, name=name, text=run.documents[name])
        for name in call.documents
        if name in run.documents
    )
    return pieces


def baton_assembly(run: BenchRun, call: Call, budget: int) -> ContextAssembly:
    return assemble(baton_pieces(run, call), budget)


def recorded_baton_tokens(run: BenchRun) -> list[int] | None:
    """Each call's context tokens as the runtime recorded them (``task.context`` events,
    matched to the call by task and fencing token), or ``None`` when the run recorded
    none. A call with no record counts as missing: an error, not a zero."""
    recorded: dict[tuple[str, int], int] = {}
    for e in run.events:
        if e.kind == ASSEMBLY_EVENT and e.task_id:
            tokens = e.payload.get("tokens", e.payload.get("total_tokens"))
            recorded[(e.task_id, int(e.payload.get("token", -1)))] = int(tokens)
    if not recorded:
        return None
    missing = [f"{c.task}#{c.token}" for c in run.calls if (c.task_id, c.token) not in recorded]
    if missing:
        raise LookupError(f"{run.name}: no {ASSEMBLY_EVENT} event for calls {missing}")
    return [recorded[(c.task_id, c.token)] for c in run.calls]


@dataclass
class BatonCalls:
    tokens: list[int]  # per call, system prompt included
    summarised: int = 0
    left_out: int = 0
    source: str = "modelled"


def baton_call_tokens(
    run: BenchRun, budget: int, count: Counts, *, recorded: bool = False
) -> BatonCalls:
    """Baton's tokens per call. THE SEAM: with ``recorded`` (and a run that recorded
    its assemblies) they are read from the event log; otherwise each call's context is
    assembled here with the view, as the runtime would."""
    system = [count(system_prompt(c.role)) for c in run.calls]
    if recorded and (read := recorded_baton_tokens(run)) is not None:
        return BatonCalls([s + r for s, r in zip(system, read, strict=True)], source="recorded")
    out = BatonCalls([])
    for s, call in zip(system, run.calls, strict=True):
        assembly = baton_assembly(run, call, budget)
        out.tokens.append(s + assembly.total_tokens)
        out.summarised += sum(p.inclusion == "summarised" for p in assembly.pieces)
        out.left_out += sum(p.inclusion == "left_out" for p in assembly.pieces)
    return out


# -- (b) group chat and (c) single agent -------------------------------------------------


def turn_line(call: Call) -> str:
    return f"@{call.role}: your turn — {'review' if call.review else 'work on'} {call.task}"


def group_chat_tokens(run: BenchRun, count: Counts) -> list[int]:
    """Each turn: its system prompt, the whole transcript so far, its turn line."""
    opening = count(run.goal) + sum(map(count, run.opening))
    opening += sum(count(text) for text in run.documents.values())
    said: list[tuple[int, int]] = [(m.seq, count(m.text)) for m in run.messages]
    said += [(seq, count(text)) for seq, text in run.added]
    for c in run.calls:
        said.append((c.seq, count(turn_line(c))))
        said.append((c.done_seq, count(f"[{c.role}] ") + count(c.output)))
    said.sort()
    out = []
    for c in run.calls:
        before = sum(n for seq, n in said if seq < c.seq)
        out.append(count(system_prompt(c.role)) + opening + before + count(turn_line(c)))
    return out


def single_agent_tokens(run: BenchRun, count: Counts) -> tuple[list[int], int]:
    """Each call re-sends the conversation so far; and the conversation's final length."""
    conversation = count(SINGLE_SYSTEM) + count(run.goal)
    conversation += sum(count(text) for text in run.documents.values())
    out = []
    for c in run.calls:
        ask = count(c.instructions) + count(c.criteria)
        out.append(conversation + ask)
        conversation += ask + count(c.output)
    return out, conversation


# -- one run, all runs -------------------------------------------------------------------


@dataclass
class RunTokens:
    run: str
    tasks: int
    calls: int
    single_agent_tokens: int
    single_agent_distinct_tokens: int
    group_chat_tokens: int
    baton_tokens: int
    baton_ratio_to_single: float
    group_chat_ratio_to_single: float
    baton_per_call: float
    single_agent_per_call: float
    group_chat_per_call: float
    largest_baton_call: int
    largest_single_agent_call: int
    output_tokens: int
    summarised: int
    left_out: int
    baton_source: str


def measure(run: BenchRun, budget: int, *, recorded: bool = False) -> RunTokens:
    count = Counts()
    baton = baton_call_tokens(run, budget, count, recorded=recorded)
    group = group_chat_tokens(run, count)
    single, distinct = single_agent_tokens(run, count)
    n = max(len(run.calls), 1)
    return RunTokens(
        run=run.name,
        tasks=run.tasks,
        calls=len(run.calls),
        single_agent_tokens=sum(single),
        single_agent_distinct_tokens=distinct,
        group_chat_tokens=sum(group),
        baton_tokens=sum(baton.tokens),
        baton_ratio_to_single=_ratio(sum(baton.tokens), sum(single)),
        group_chat_ratio_to_single=_ratio(sum(group), sum(single)),
        baton_per_call=round(sum(baton.tokens) / n, 1),
        single_agent_per_call=round(sum(single) / n, 1),
        group_chat_per_call=round(sum(group) / n, 1),
        largest_baton_call=max(baton.tokens, default=0),
        largest_single_agent_call=max(single, default=0),
        output_tokens=sum(count(c.output) for c in run.calls),
        summarised=baton.summarised,
        left_out=baton.left_out,
        baton_source=baton.source,
    )


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else 0.0


def totals(rows: Sequence[RunTokens]) -> dict[str, Any]:
    single = sum(r.single_agent_tokens for r in rows)
    group = sum(r.group_chat_tokens for r in rows)
    baton = sum(r.baton_tokens for r in rows)
    return {
        "runs": len(rows),
        "calls": sum(r.calls for r in rows),
        "single_agent_tokens": single,
        "single_agent_distinct_tokens": sum(r.single_agent_distinct_tokens for r in rows),
        "group_chat_tokens": group,
        "baton_tokens": baton,
        "baton_ratio_to_single": _ratio(baton, single),
        "group_chat_ratio_to_single": _ratio(group, single),
        "baton_ratio_to_single_distinct": _ratio(
            baton, sum(r.single_agent_distinct_tokens for r in rows)
        ),
        "median_run_baton_ratio_to_single": round(
            statistics.median(r.baton_ratio_to_single for r in rows), 3
        )
        if rows
        else 0.0,
    }


def report(rows: Sequence[RunTokens], budget: int, seconds: float) -> dict[str, Any]:
    """The headline is the example runs; the team plan at each size is the scaling
    series (its largest sizes would drown every other run in a plain sum)."""
    examples = [r for r in rows if not r.run.startswith("team/")]
    team = [r for r in rows if r.run.startswith("team/")]
    return {
        **totals(examples),
        "encoding": ENCODING_NAME,
        "budget": budget,
        "all_runs": totals(rows),
        "team_sizes": [
            {
                "run": r.run,
                "tasks": r.tasks,
                "calls": r.calls,
                "baton_per_call": r.baton_per_call,
                "single_agent_per_call": r.single_agent_per_call,
                "group_chat_per_call": r.group_chat_per_call,
                "baton_ratio_to_single": r.baton_ratio_to_single,
                "group_chat_ratio_to_single": r.group_chat_ratio_to_single,
            }
            for r in team
        ],
        "per_run": [asdict(r) for r in rows],
        "seconds": round(seconds, 1),
    }


def _k(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:,.2f}M"
    return f"{n / 1000:,.1f}k" if n >= 10_000 else f"{n:,.0f}"


def print_table(rows: Sequence[RunTokens], summary: dict[str, Any], budget: int) -> None:
    console = Console(width=max(shutil.get_terminal_size().columns, 180))
    table = Table(
        title=f"Input tokens given to the agents ({ENCODING_NAME}; Baton's budget "
        f"{budget:,} per call)",
        title_justify="left",
    )
    for name in [
        "run", "tasks", "calls", "single agent", "group chat", "Baton", "Baton / single",
        "group / single", "per call: Baton", "single", "largest call: Baton", "single",
        "single distinct", "Baton / distinct", "summarised / left out",
    ]:  # fmt: skip
        if name == "run":
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            r.run, str(r.tasks), str(r.calls), _k(r.single_agent_tokens),
            _k(r.group_chat_tokens), _k(r.baton_tokens), f"{r.baton_ratio_to_single:.2f}",
            f"{r.group_chat_ratio_to_single:.2f}", _k(r.baton_per_call),
            _k(r.single_agent_per_call), _k(r.largest_baton_call),
            _k(r.largest_single_agent_call), _k(r.single_agent_distinct_tokens),
            f"{_ratio(r.baton_tokens, r.single_agent_distinct_tokens):.2f}",
            f"{r.summarised} / {r.left_out}",
        )  # fmt: skip
    for label, t in (("examples", summary), ("all runs", summary["all_runs"])):
        table.add_row(
            f"[bold]{label}[/]", "", str(t["calls"]), _k(t["single_agent_tokens"]),
            _k(t["group_chat_tokens"]), _k(t["baton_tokens"]),
            f"[bold]{t['baton_ratio_to_single']:.2f}[/]",
            f"{t['group_chat_ratio_to_single']:.2f}", "", "", "", "",
            _k(t["single_agent_distinct_tokens"]), f"{t['baton_ratio_to_single_distinct']:.2f}",
            "",
        )  # fmt: skip
    console.print(table)
    ok = summary["baton_ratio_to_single"] <= 1.3
    console.print(
        f"Baton / single agent over the examples: {summary['baton_ratio_to_single']:.2f} "
        f"(target ≤ 1.3 {'✓' if ok else '✗'}); group chat / single agent: "
        f"{summary['group_chat_ratio_to_single']:.2f}. Against a single agent whose re-sent "
        f"conversation were free (a perfect prompt cache): "
        f"{summary['baton_ratio_to_single_distinct']:.2f}. Baton per call by team size: "
        + ", ".join(f"{_k(r['baton_per_call'])}" for r in summary["team_sizes"])
        + " (single agent: "
        + ", ".join(f"{_k(r['single_agent_per_call'])}" for r in summary["team_sizes"])
        + ")."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help=f"team sizes {QUICK_SIZES}")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="tokens per call")
    parser.add_argument("--sizes", help="team plan sizes in modules, e.g. 2,8,32")
    parser.add_argument(
        "--recorded",
        action="store_true",
        help=f"Baton's tokens from the runs' {ASSEMBLY_EVENT} events (modelled where a run "
        "recorded none), and every answer as recorded, not sized like a model's",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    sizes = sizes or (QUICK_SIZES if args.quick else SIZES)
    started = time.perf_counter()
    runs = collect(sizes, sized=not args.recorded)
    rows = [measure(run, args.budget, recorded=args.recorded) for run in runs]
    summary = report(rows, args.budget, time.perf_counter() - started)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(rows, summary, args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
