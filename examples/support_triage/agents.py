"""Deterministic function agents for customer-support triage (peer-to-peer, no planner).

No model is called: every agent is a plain Python function over made-up account data,
so the example runs offline and always tells the same story. Each sleeps a moment to
stand for real work.

* **triage** reads a ticket and routes it by putting tasks on the board for the roles
  that should handle it (``ctx.add_tasks``) — there is no planner and no supervisor.
* **billing** and **technical** collaborate on "charged after canceling" through
  structured ``handoff`` messages on the board: billing hands over the charge, technical
  answers with when the cancellation was really made; each waits for the other's message
  by raising ``RetryLater`` (a retried attempt sees the messages posted since).
* **technical** escalates a ticket nobody can resolve to a human (``ctx.escalate`` with
  the evidence) and fails its task for good (``GiveUp``), so no canned reply goes out.
* **responder** writes the reply to the customer from the results it depends on.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from baton import Event
from baton.agents import TaskContext
from baton.model.errors import GiveUp, RetryLater

WORK_S = 0.05

# --- the "systems" the agents look things up in ------------------------------------------

CHARGES: dict[str, dict[str, Any]] = {
    "acct-311": {
        "charge": "ch_9913",
        "amount_usd": 29.0,
        "at": "2025-03-01T00:05:00Z",
        "what": "Pro plan, monthly renewal",
    }
}
ACCOUNT_LOG: dict[str, list[dict[str, Any]]] = {
    "acct-311": [
        {"at": "2025-02-27T18:40:12Z", "event": "subscription.cancel_requested", "via": "web"},
        {"at": "2025-02-27T18:40:13Z", "event": "webhook.billing_provider", "status": 500},
    ]
}
BACKUP_RETENTION_DAYS = 30
DELETED_PROJECTS: dict[str, dict[str, Any]] = {
    "acct-502": {"project": "atlas", "deleted_days_ago": 45}
}

# --- routing rules: which words send a ticket to which roles ------------------------------

ROUTES = {
    "billing": ("charged", "charge", "refund", "invoice"),
    "technical": ("cancel", "error", "deleted", "restore", "crash", "login"),
}

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

# Retried attempts (while waiting for a peer's message) come back quickly.
WAITING = {"max_attempts": 25, "backoff_base_s": 0.02, "backoff_max_s": 0.1}


def _handoffs(ctx: TaskContext, to_role: str) -> list[Event]:
    return [
        m
        for m in ctx.messages
        if m.kind == "message.handoff" and m.payload["body"]["to_role"] == to_role
    ]


# --- the agents ---------------------------------------------------------------------------


async def triage(ctx: TaskContext) -> dict[str, Any]:
    """Classify the ticket and hand it to the roles that can act on it."""
    await asyncio.sleep(WORK_S)
    ticket = ctx.input["ticket"]
    text = ticket["text"].lower()
    routes = [role for role, words in ROUTES.items() if any(w in text for w in words)]
    if not routes:
        routes = ["technical"]  # the default queue
    new: list[dict[str, Any]] = [
        {
            "id": role,
            "title": f"{role.capitalize()}: {ticket['subject']}",
            "role": role,
            "input": {"ticket": ticket, "collaborators": [r for r in routes if r != role]},
            **WAITING,
        }
        for role in routes
    ]
    new.append(
        {
            "id": "reply",
            "title": f"Reply to {ticket['customer']}",
            "role": "responder",
            "depends_on": routes,
            "input": {"ticket": ticket},
        }
    )
    await ctx.add_tasks(new)
    return {"routed_to": routes, "reply_after": routes}


async def billing(ctx: TaskContext) -> dict[str, Any]:
    """Find the charge; if the customer says they canceled, ask technical when, and
    decide on a refund once technical's answer is on the board."""
    ticket = ctx.input["ticket"]
    charge = CHARGES.get(ticket["account"])
    if charge is None:
        raise GiveUp(f"no charge on record for {ticket['account']}")
    needs_technical = "technical" in ctx.input["collaborators"]
    if not needs_technical:
        await asyncio.sleep(WORK_S)
        return {"decision": "explain", "charge": charge}
    if not any(m.task_id == ctx.task.id for m in _handoffs(ctx, "technical")):
        await ctx.post_message(
            "handoff",
            {
                "to_role": "technical",
                "task": "technical",
                "summary": (
                    f"Charge {charge['charge']} of ${charge['amount_usd']:.2f} at {charge['at']} "
                    f"({charge['what']}). Was the subscription canceled before that?"
                ),
            },
            to="technical",
        )
    answer = _handoffs(ctx, "billing")
    if not answer:
        raise RetryLater("waiting for technical: when was the cancellation made?")
    facts = answer[-1].payload["body"]
    await asyncio.sleep(WORK_S)
    # A handoff carries prose (``summary``); the time in it is in ISO 8601.
    found = ISO_TIME.search(facts["summary"])
    if found is None:
        raise GiveUp(f"technical's handoff names no time: {facts['summary']!r}")
    canceled_at = found.group(0)
    refund = canceled_at < charge["at"]  # ISO times compare as strings
    decision = {
        "decision": "refund" if refund else "no_refund",
        "charge": charge["charge"],
        "amount_usd": charge["amount_usd"] if refund else 0.0,
        "reason": (
            f"canceled at {canceled_at}, before the renewal at {charge['at']}"
            if refund
            else f"the renewal at {charge['at']} came before the cancellation"
        ),
        "based_on_message": answer[-1].seq,
    }
    await ctx.post_message(
        "note",
        {
            "text": f"Billing decision: {decision['decision']} ${decision['amount_usd']:.2f} "
            f"on {charge['charge']} ({decision['reason']})."
        },
    )
    return decision


async def technical(ctx: TaskContext) -> dict[str, Any]:
    """Troubleshoot the product side; escalate to a human what cannot be fixed."""
    ticket = ctx.input["ticket"]
    account = ticket["account"]
    if account in DELETED_PROJECTS:
        await asyncio.sleep(WORK_S)
        lost = DELETED_PROJECTS[account]
        checked = ["trash (kept 7 days)", "nightly snapshots", "cold-storage backups"]
        reason = (
            f"project {lost['project']!r} was deleted {lost['deleted_days_ago']} days ago; "
            f"backups are kept {BACKUP_RETENTION_DAYS} days, so no agent can restore it"
        )
        await ctx.escalate(
            reason,
            evidence={
                "ticket": ticket["id"],
                "account": account,
                "project": lost["project"],
                "deleted_days_ago": lost["deleted_days_ago"],
                "backup_retention_days": BACKUP_RETENTION_DAYS,
                "checked": checked,
            },
        )
        raise GiveUp(f"escalated to a human: {reason}")
    if "billing" in ctx.input["collaborators"]:
        asked = [m for m in _handoffs(ctx, "technical") if m.payload["body"]["task"] == "technical"]
        if not asked:
            raise RetryLater("waiting for billing: which charge is this about?")
    await asyncio.sleep(WORK_S)
    log = ACCOUNT_LOG[account]
    requested = next(e for e in log if e["event"] == "subscription.cancel_requested")
    webhook = next(e for e in log if e["event"] == "webhook.billing_provider")
    finding = {
        "cancel_requested_at": requested["at"],
        "root_cause": f"the cancel webhook to the billing provider failed ({webhook['status']}), "
        "so the subscription stayed active and renewed",
        "fix": "replayed the webhook; the subscription is canceled as of the request",
    }
    if "billing" in ctx.input["collaborators"]:
        await ctx.post_message(
            "handoff",
            {
                "to_role": "billing",
                "task": "billing",
                "summary": f"Cancellation requested at {requested['at']} via {requested['via']}; "
                f"{finding['root_cause']}. Fixed: {finding['fix']}.",
            },
            to="billing",
        )
    return finding


async def responder(ctx: TaskContext) -> dict[str, Any]:
    """Write the customer's reply from what billing and technical found."""
    await asyncio.sleep(WORK_S)
    ticket = ctx.input["ticket"]
    parts = [f"Hi {ticket['customer']}."]
    tech = ctx.dependencies.get("technical")
    bill = ctx.dependencies.get("billing")
    if tech is not None:
        parts.append(
            f"You canceled on {tech.output['cancel_requested_at'][:10]}, but a fault on our "
            "side kept your subscription active. We have fixed it."
        )
    if bill is not None and bill.output["decision"] == "refund":
        parts.append(
            f"We have refunded ${bill.output['amount_usd']:.2f} for charge {bill.output['charge']}."
        )
    parts.append("Sorry for the trouble.")
    return {"to": ticket["customer"], "ticket": ticket["id"], "body": " ".join(parts)}


AGENTS = {
    "triage": triage,
    "billing": billing,
    "technical": technical,
    "responder": responder,
}
