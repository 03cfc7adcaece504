"""Anomalies the watchdog looks for on every pass, from the run's recent events and its
usage — each a pure function returning the incident (its reason, evidence and the key
that makes raising it once idempotent) or nothing:

* **repeated denials** — one participant refused (``access.denied`` / ``policy.denied``)
  ``denial_alert`` times: it keeps acting outside its grants;
* **chatter** — two participants messaging back and forth ``chatter_alert`` times with
  no task progress in between;
* **a claim burst** — a participant claiming ``burst_min`` tasks or more within
  ``burst_window_s``, over ``burst_factor`` times its own rate before. Only a participant
  whose claims in the recent events reach back ``burst_baseline_windows`` windows before
  this one has a known rate: a worker that just started, or one whose history the recent
  events do not cover (a busy run), is not judged — "far above its normal rate" needs a
  normal rate, and a fresh fast worker is not an anomaly (a cap on claims is a policy's
  job, not a guess's);
* **a spend rate** that exhausts the run's budget before its remaining work is done: at
  the cost (or tokens) per finished task so far, the open tasks need more than is left.

The orchestrator raises each as ``escalation.<kind>`` (docs/events.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.model import Event, Run

_DENIED = ("access.denied", "policy.denied")
#: Events that are not progress (the same set the stall check leaves out).
_NOT_PROGRESS = ("task.lease_renewed", "task.usage", "task.context")
_DONE = ("task.complete", "task.approve")


@dataclass(frozen=True)
class Thresholds:
    denial_alert: int = 5
    chatter_alert: int = 10
    burst_window_s: float = 60.0
    burst_min: int = 30
    burst_factor: float = 5.0
    burst_baseline_windows: float = 3.0


@dataclass(frozen=True)
class Incident:
    kind: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""


def repeated_denials(run: Run, recent: Sequence[Event], limits: Thresholds) -> list[Incident]:
    refused: dict[str, list[Event]] = defaultdict(list)
    for e in recent:
        if e.kind in _DENIED:
            refused[e.actor].append(e)
    found = []
    for actor, events in refused.items():
        if len(events) >= limits.denial_alert:
            nth = events[limits.denial_alert - 1]
            actions = Counter(str(e.payload.get("action", "")) for e in events)
            found.append(
                Incident(
                    "repeated_denials",
                    f"{actor} was refused {len(events)} times: it keeps acting outside its grants",
                    {
                        "participant": actor,
                        "refusals": len(events),
                        "actions": dict(actions.most_common(10)),
                    },
                    f"denials:{run.id}:{actor}:{nth.seq}",
                )
            )
    return found


def chatter(run: Run, recent: Sequence[Event], limits: Thresholds) -> list[Incident]:
    """Messages between the same two participants since the last progress."""
    since_progress: list[Event] = []
    for e in recent:
        if e.kind.startswith("message."):
            since_progress.append(e)
        elif e.kind not in _NOT_PROGRESS and not e.kind.startswith("escalation."):
            since_progress = []
    pairs: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for m in since_progress:
        to = m.payload.get("to")
        if isinstance(to, str) and to and to != m.actor:
            a, b = sorted((m.actor, to))
            pairs[(a, b)].append(m)
    found = []
    for (a, b), messages in pairs.items():
        senders = {m.actor for m in messages}
        if len(messages) >= limits.chatter_alert and senders == {a, b}:
            found.append(
                Incident(
                    "chatter",
                    f"{a} and {b} exchanged {len(messages)} messages with no task progress",
                    {
                        "participants": [a, b],
                        "messages": len(messages),
                        "first_seq": messages[0].seq,
                    },
                    f"chatter:{run.id}:{a}:{b}:{messages[0].seq}",
                )
            )
    return found


def claim_burst(
    run: Run, recent: Sequence[Event], now: float, limits: Thresholds
) -> list[Incident]:
    window_start = now - limits.burst_window_s
    claims: dict[str, list[float]] = defaultdict(list)
    for e in recent:
        if e.kind in ("task.claim", "task.review_claimed"):
            claims[e.actor].append(e.at)
    found = []
    for actor, times in claims.items():
        inside = [t for t in times if t >= window_start]
        before = [t for t in times if t < window_start]
        if len(inside) < limits.burst_min:
            continue
        span = (window_start - min(before)) if before else 0.0
        if span < limits.burst_baseline_windows * limits.burst_window_s:
            continue  # no known usual rate to be far above
        usual = len(before) / span * limits.burst_window_s
        if len(inside) > limits.burst_factor * max(usual, 1.0):
            found.append(
                Incident(
                    "claim_burst",
                    f"{actor} claimed {len(inside)} tasks in {limits.burst_window_s:.0f}s, "
                    f"against {usual:.1f} per {limits.burst_window_s:.0f}s before",
                    {
                        "participant": actor,
                        "claims_in_window": len(inside),
                        "usual_per_window": round(usual, 2),
                    },
                    f"burst:{run.id}:{actor}:{int(window_start // limits.burst_window_s)}",
                )
            )
    return found


def spend_rate(run: Run, counts: Mapping[str, int]) -> list[Incident]:
    """Would the remaining tasks, at the spend per finished task so far, exceed what
    is left of the budget?"""
    budget = run.budget or {}
    done = sum(n for s, n in counts.items() if s == "done")
    open_ = sum(
        n for s, n in counts.items()
        if s in ("pending", "ready", "running", "in_review", "awaiting_approval", "blocked")
    )  # fmt: skip
    if done == 0 or open_ == 0:
        return []
    found = []
    for what, used, limit in (
        ("cost_usd", run.cost_used, budget.get("cost_usd")),
        ("tokens", float(run.tokens_used), budget.get("tokens")),
    ):
        if not limit or used <= 0:
            continue
        per_task = used / done
        needed = per_task * open_
        left = float(limit) - used
        if needed > left:
            found.append(
                Incident(
                    "spend_rate",
                    f"at {per_task:.4g} {what} per finished task, the {open_} open tasks need "
                    f"{needed:.4g} {what}; {max(left, 0):.4g} of {limit} is left",
                    {
                        "budget": what,
                        "limit": limit,
                        "used": used,
                        "per_task": per_task,
                        "open_tasks": open_,
                        "needed": needed,
                    },
                    f"spend:{run.id}:{what}:{done}",
                )
            )
    return found
