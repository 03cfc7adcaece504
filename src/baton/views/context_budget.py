"""A task's context, assembled to a token budget, most relevant first.

An agent's context is made of *pieces* (:class:`ContextPiece`): the task, its acceptance
criteria, review feedback, its dependencies' outputs, messages and the artifacts in its
scope. :func:`assemble` puts them together into one text of at most ``budget`` tokens
(``o200k_base``, :mod:`baton.views.tokens`) and says what happened to each piece
(:class:`ContextAssembly`); :meth:`ContextAssembly.record` is that account without the
text — kinds, names and token counts — small enough to be recorded on the attempt as an
event's payload.

The rules, in order:

1. **The task and its acceptance criteria always go in.** When they alone are over the
   budget, the budget is shared out among them water-fill fashion — the shortest go in
   whole, the longest are cut — and each cut one ends with the marker
   ``… (N more tokens cut: the task alone is over the context budget of B tokens)``
   (inclusion ``truncated``). If the budget cannot hold even their headings and
   markers, the assembly is those alone and ``over_budget`` is true: it never fails.
2. **Then the other pieces, by kind**: review feedback, dependency outputs, messages,
   artifacts; within a kind by ``priority``, highest first (give a message its event
   ``seq`` and the newest comes first), ties in the order given.
3. **Each piece goes in whole if it fits** in the room left. If not, and there is room
   for a summary (at least ``min_summary_tokens``), its first lines go in, followed by
   ``… (N more tokens left out)`` (inclusion ``summarised``); a summary takes at most
   half the room left, or ``summary_tokens`` when that is more, so that a long piece
   does not crowd out every piece after it, and leaves ``LEFT_OUT_RESERVE`` tokens for
   the closing section (a whole piece may use those). Otherwise it is left out
   (``left_out``). A later, smaller piece may still go in after a larger one did not.
4. **What was left out is named** in a closing section, ``## Left out for lack of
   room``, one line per piece with its token count (most relevant first; when even that
   list does not fit, its tail is folded into one "… and K more" line, and with no room
   at all the section is omitted — the record still lists every piece).

The text is the pieces' sections in that order, each a Markdown heading naming the
piece then its text, separated by blank lines. ``total_tokens`` is the exact count of
the text, and it is at most ``budget`` unless ``over_budget``.

Pure: no store, no I/O but the tokenizer's one-time vocabulary load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from baton.model.errors import InvalidArgument
from baton.views.tokens import ENCODING_NAME, count_tokens, first_tokens


class PieceKind(StrEnum):
    """What a piece of context is; the order here is the order of relevance."""

    TASK = "task"
    ACCEPTANCE_CRITERIA = "acceptance_criteria"
    REVIEW_FEEDBACK = "review_feedback"
    DEPENDENCY_OUTPUT = "dependency_output"
    MESSAGE = "message"
    ARTIFACT = "artifact"


#: Kinds that always go in (cut, never left out, when the budget is too small).
MANDATORY = frozenset({PieceKind.TASK, PieceKind.ACCEPTANCE_CRITERIA})

_RANK = {kind: rank for rank, kind in enumerate(PieceKind)}
_HEADINGS = {
    PieceKind.TASK: "# Task",
    PieceKind.ACCEPTANCE_CRITERIA: "## Acceptance criteria",
    PieceKind.REVIEW_FEEDBACK: "## Review feedback",
    PieceKind.DEPENDENCY_OUTPUT: "## Output of dependency",
    PieceKind.MESSAGE: "## Message",
    PieceKind.ARTIFACT: "## Artifact",
}
_LEFT_OUT_HEADING = "## Left out for lack of room"
_SEPARATOR = "\n\n"
#: Room a summary leaves for the closing "left out" section.
LEFT_OUT_RESERVE = 32
#: Names longer than this are clipped, in the text and in the record.
MAX_NAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class ContextPiece(BaseModel):
    """One piece of context offered to :func:`assemble`."""

    model_config = ConfigDict(frozen=True)

    kind: PieceKind
    name: str
    text: str
    #: Relevance within its kind: higher goes first (a message's seq: newest first).
    priority: float = Field(default=0.0, allow_inf_nan=False)

    @classmethod
    def of(cls, kind: PieceKind, name: str, value: Any, priority: float = 0.0) -> ContextPiece:
        """A piece from any value: text as it is, anything else as indented JSON."""
        text = value if isinstance(value, str) else render_value(value)
        return cls(kind=kind, name=name, text=text, priority=priority)


def render_value(value: Any) -> str:
    """A JSON-like value as a model is shown it (indented JSON, non-ASCII kept)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class Inclusion(StrEnum):
    WHOLE = "whole"
    SUMMARISED = "summarised"  # its first lines and how much was left out
    TRUNCATED = "truncated"  # task or acceptance criteria cut: they alone were over budget
    LEFT_OUT = "left_out"  # only named in the closing section (if that had room)


class PieceRecord(BaseModel):
    """What happened to one piece: its size and how much of it went in."""

    model_config = ConfigDict(frozen=True)

    kind: PieceKind
    name: str
    tokens: int  # the piece's own text
    shown: int  # tokens of that text that went in (== tokens when whole, 0 when left out)
    inclusion: Inclusion


class AssemblyRecord(BaseModel):
    """An assembly without its text: what is recorded on the attempt (names and counts)."""

    model_config = ConfigDict(frozen=True)

    encoding: str = ENCODING_NAME
    budget: int
    total_tokens: int  # the assembled text, headings and markers included
    over_budget: bool  # the task's headings and markers alone did not fit
    pieces: list[PieceRecord]  # every piece offered, once, in assembly order

    def count(self, inclusion: Inclusion) -> int:
        return sum(1 for p in self.pieces if p.inclusion is inclusion)

    @property
    def offered_tokens(self) -> int:
        """What the pieces add up to before any budget: the context without assembly."""
        return sum(p.tokens for p in self.pieces)


class ContextAssembly(AssemblyRecord):
    """The assembled context: the text handed to the model, and its record."""

    text: str

    def record(self) -> AssemblyRecord:
        return AssemblyRecord.model_validate(self.model_dump(exclude={"text"}))

    def event_payload(self) -> dict[str, Any]:
        """The record as plain JSON, for an event."""
        return self.record().model_dump(mode="json")


@dataclass
class _Slot:
    """A piece on its way through the assembly."""

    piece: ContextPiece
    name: str
    tokens: int
    block: str = ""
    cost: int = 0  # tokens of block + separator
    shown: int = 0
    inclusion: Inclusion = Inclusion.LEFT_OUT

    @property
    def heading(self) -> str:
        base = _HEADINGS[self.piece.kind]
        return f"{base}: {self.name}" if self.name else base

    whole_cost: int | None = None

    def put(self, block: str, shown: int, inclusion: Inclusion) -> None:
        self.block, self.shown, self.inclusion = block, shown, inclusion
        self.cost = count_tokens(block + _SEPARATOR)

    def put_whole(self) -> None:
        """Put the whole piece in (its cost counted once, however often this is done)."""
        if self.whole_cost is None:
            self.put(f"{self.heading}\n{self.piece.text}", self.tokens, Inclusion.WHOLE)
            self.whole_cost = self.cost
        else:
            self.block, self.cost = f"{self.heading}\n{self.piece.text}", self.whole_cost
            self.shown, self.inclusion = self.tokens, Inclusion.WHOLE

    def leave_out(self) -> None:
        self.block, self.cost, self.shown, self.inclusion = "", 0, 0, Inclusion.LEFT_OUT


def assemble(
    pieces: Iterable[ContextPiece],
    budget: int,
    *,
    summary_tokens: int = 200,
    min_summary_tokens: int = 48,
) -> ContextAssembly:
    """Assemble ``pieces`` into at most ``budget`` tokens, most relevant first (the rules
    are in this module's docstring). Deterministic: the same pieces and budget give the
    same assembly.

    Raises:
        InvalidArgument: a negative budget or summary size.
    """
    if budget < 0 or summary_tokens < 0 or min_summary_tokens < 0:
        raise InvalidArgument("budget, summary_tokens and min_summary_tokens must be >= 0")
    slots = [
        _Slot(piece=p, name=_clean_name(p.name), tokens=count_tokens(p.text))
        for _, p in sorted(
            enumerate(pieces), key=lambda ip: (_RANK[ip[1].kind], -ip[1].priority, ip[0])
        )
    ]
    mandatory = [s for s in slots if s.piece.kind in MANDATORY]
    optional = [s for s in slots if s.piece.kind not in MANDATORY]
    used = _place_mandatory(mandatory, budget)

    _place_optional(optional, budget - used, summary_tokens, min_summary_tokens)

    while True:
        placed = [s for s in slots if s.block]
        room = budget - sum(s.cost for s in placed)
        left_out = [s for s in slots if s.inclusion is Inclusion.LEFT_OUT]
        closing = _left_out_section(left_out, room) if left_out else None
        text = _SEPARATOR.join([*(s.block for s in placed), *([closing] if closing else [])])
        total = count_tokens(text)
        shrinkable = [s for s in optional if s.block]
        if total <= budget or not shrinkable:
            break
        shrinkable[-1].leave_out()  # a safety net: the block costs are exact in practice

    return ContextAssembly(
        budget=budget,
        total_tokens=total,
        over_budget=total > budget,
        pieces=[
            PieceRecord(
                kind=s.piece.kind,
                name=s.name,
                tokens=s.tokens,
                shown=s.shown,
                inclusion=s.inclusion,
            )
            for s in slots
        ],
        text=text,
    )


def _place_mandatory(slots: Sequence[_Slot], budget: int) -> int:
    """Put the task and its criteria in, whole or cut to share ``budget``; their cost."""
    for s in slots:
        s.put_whole()
    if sum(s.cost for s in slots) <= budget:
        return sum(s.cost for s in slots)
    remaining = budget
    by_size = sorted(slots, key=lambda s: s.cost)
    for done, s in enumerate(by_size):
        share = remaining // (len(by_size) - done)
        if s.cost > share:
            marker = "… ({n} more tokens cut: the task alone is over the context budget of "
            _shorten(s, max(share, 0), marker + f"{budget} tokens)", Inclusion.TRUNCATED)
        remaining -= s.cost
    return sum(s.cost for s in slots)


def _place_optional(slots: Sequence[_Slot], room: int, summary: int, min_summary: int) -> None:
    """Each piece in order: whole if it fits, else summarised if there is room, else out.
    Summaries leave LEFT_OUT_RESERVE tokens for the closing section; whole pieces may
    take them (content before the list of what is missing)."""
    for s in slots:
        s.put_whole()
        if s.cost <= room:
            room -= s.cost
            continue
        spare = room - LEFT_OUT_RESERVE
        allowance = min(spare, max(summary, spare // 2))
        if allowance >= min_summary:
            _shorten(s, allowance, "… ({n} more tokens left out)", Inclusion.SUMMARISED)
            if s.cost <= allowance and s.shown > 0:
                room -= s.cost
                continue
        s.leave_out()


def _shorten(s: _Slot, allowance: int, marker: str, inclusion: Inclusion) -> None:
    """Put ``s`` in as its heading, the first lines of its text and ``marker`` (``{n}``:
    the tokens left out), in at most ``allowance`` tokens when that can be done."""
    fixed = count_tokens(f"{s.heading}\n\n{marker.format(n=s.tokens)}{_SEPARATOR}")
    keep = allowance - fixed
    while True:
        head = _first_lines(s.piece.text, keep)
        shown = min(count_tokens(head), s.tokens)
        body = f"{head}\n" if head else ""
        s.put(f"{s.heading}\n{body}{marker.format(n=s.tokens - shown)}", shown, inclusion)
        if s.cost <= allowance or not head:
            return
        keep -= s.cost - allowance


def _first_lines(text: str, limit: int) -> str:
    """The start of ``text`` in at most ``limit`` tokens: whole lines when they keep at
    least half of that, else cut between two tokens."""
    head = first_tokens(text, limit).rstrip()
    cut = head.rfind("\n")
    if cut > 0 and len(head) < len(text):
        lines = head[:cut].rstrip()
        if count_tokens(lines) * 2 >= limit:
            return lines
    return head


def _left_out_section(left_out: Sequence[_Slot], room: int) -> str | None:
    """The closing list of what was left out, in at most ``room`` tokens (or ``None``)."""

    def section(listed: int) -> str:
        lines = [f"- {_label(s)}: {s.tokens} tokens" for s in left_out[:listed]]
        rest = left_out[listed:]
        if rest:
            more = sum(s.tokens for s in rest)
            lines.append(f"- … and {len(rest)} more: {more} tokens")
        return "\n".join([_LEFT_OUT_HEADING, *lines])

    if count_tokens(section(len(left_out))) <= room:
        return section(len(left_out))
    low, high = 0, len(left_out) - 1  # the most lines that fit, by bisection
    if count_tokens(section(0)) > room:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(section(middle)) <= room:
            low = middle
        else:
            high = middle - 1
    return section(low)


def _label(s: _Slot) -> str:
    kind = s.piece.kind.value.replace("_", " ")
    return f"{kind} {s.name}" if s.name else kind


def _clean_name(name: str) -> str:
    """A name on one line (control characters become spaces), at most MAX_NAME long."""
    flat = _CONTROL.sub(" ", name).strip()
    return flat if len(flat) <= MAX_NAME else flat[: MAX_NAME - 1] + "…"
