"""Structured messages between participants on a run: each kind has a schema.

A message is stored as an event (``message.<kind>``), so it is ordered, durable and
visible to every subscriber, like any other change on the board.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton.model.errors import InvalidMessage


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BlockedBy(_Body):
    """Task ``task`` cannot go on until ``blocked_by`` does something."""

    task: str
    blocked_by: str
    reason: str = Field(min_length=1)


class Question(_Body):
    question: str = Field(min_length=1)
    to_role: str | None = None


class Answer(_Body):
    question_seq: int
    answer: str = Field(min_length=1)


class Handoff(_Body):
    """Work passes to another role, with what it needs to know."""

    to_role: str
    summary: str = Field(min_length=1)
    task: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)  # structured facts to hand over


class Note(_Body):
    text: str = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)


DEFAULT_MESSAGE_KINDS: Mapping[str, type[BaseModel]] = {
    "blocked_by": BlockedBy,
    "question": Question,
    "answer": Answer,
    "handoff": Handoff,
    "note": Note,
}


def validate_message(
    kinds: Mapping[str, type[BaseModel]], kind: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """The message body as stored, or :class:`InvalidMessage` saying what is wrong."""
    model = kinds.get(kind)
    if model is None:
        raise InvalidMessage(f"unknown message kind {kind!r}; known kinds: {sorted(kinds)}")
    try:
        return model.model_validate(body).model_dump(mode="json")
    except ValidationError as exc:
        faults = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<body>'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidMessage(f"message of kind {kind!r} is invalid: {faults}") from None
