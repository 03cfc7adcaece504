"""Tables drawn from the event log: what each role spent, and what waits for a human."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from baton.model import Event


@dataclass
class RoleUsage:
    role: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    models: set[str] | None = None


def usage_by_role(events: Iterable[Event]) -> list[RoleUsage]:
    """Tokens and cost per role, from ``task.usage`` events, most expensive first."""
    rows: dict[str, RoleUsage] = defaultdict(lambda: RoleUsage(role=""))
    for e in events:
        if e.kind != "task.usage":
            continue
        role = str(e.payload.get("role") or "?")
        row = rows[role]
        row.role = role
        row.calls += 1
        row.input_tokens += int(e.payload.get("input_tokens", 0))
        row.output_tokens += int(e.payload.get("output_tokens", 0))
        row.cost_usd += float(e.payload.get("cost_usd", 0.0))
        row.models = (row.models or set()) | {str(e.payload.get("model"))}
    return sorted(rows.values(), key=lambda r: (-r.cost_usd, -(r.input_tokens + r.output_tokens)))
