"""The plan: one ticket is one run, and a run starts as a single triage task.

There is no planner: the triage agent puts the rest of the work on the board itself,
for whichever roles the ticket needs (see ``agents.triage``).
"""

from __future__ import annotations

from typing import Any

ROLES = ["triage", "billing", "technical", "responder"]

TICKETS: dict[str, dict[str, Any]] = {
    # Needs billing and technical together.
    "charged_after_cancel": {
        "id": "T-1042",
        "customer": "Dana",
        "account": "acct-311",
        "subject": "Why was I charged after canceling?",
        "text": "Why was I charged after canceling? I canceled my Pro plan on Feb 27 "
        "and still got a $29 charge on Mar 1.",
    },
    # Nobody can resolve it: escalated to a human.
    "unresolvable": {
        "id": "T-1043",
        "customer": "Sam",
        "account": "acct-502",
        "subject": "Restore my deleted project",
        "text": "I deleted my project Atlas about six weeks ago by mistake. Please restore "
        "it, I need it for an audit tomorrow.",
    },
}


def plan_for(ticket: dict[str, Any]) -> dict[str, Any]:
    return {
        "goal": f"Resolve ticket {ticket['id']}: {ticket['subject']}",
        "roles": ROLES,
        "labels": ["support"],
        "tasks": [
            {
                "id": "triage",
                "title": f"Triage {ticket['id']}",
                "role": "triage",
                "input": {"ticket": ticket},
                "acceptance_criteria": ["the ticket is routed to the roles that can act on it"],
            }
        ],
    }
