"""Deterministic function agents for the payment pipeline (no model is called).

Every agent is a plain Python function over the transaction in the plan, so the example
runs offline and always tells the same story; each sleeps a moment to stand for real
work. The fraud check scores a few classic signals and, past the threshold, raises
``GiveUp``: the task fails for good (no retry), and the board cascades the failure to
everything downstream before any of it can be claimed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baton.agents import TaskContext
from baton.model.errors import GiveUp

WORK_S = 0.05
FRAUD_THRESHOLD = 70


async def _work() -> None:
    await asyncio.sleep(WORK_S)


async def validator(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    tx = ctx.input["transaction"]
    problems = []
    if tx["amount"] <= 0:
        problems.append("amount must be positive")
    if tx["currency"] not in ("USD", "EUR"):
        problems.append(f"unsupported currency {tx['currency']}")
    if "@" not in tx["customer"]["email"]:
        problems.append("no valid customer email")
    if problems:
        raise GiveUp("invalid transaction: " + "; ".join(problems))
    return {"transaction": tx, "checks": ["amount", "currency", "email"]}


def fraud_signals(tx: dict[str, Any]) -> dict[str, int]:
    signals = {
        "large amount": 30 if tx["amount"] >= 1000 else 0,
        "card and IP countries differ": 35 if tx["card"]["country"] != tx["ip_country"] else 0,
        "account younger than a day": 25 if tx["customer"]["account_age_days"] < 1 else 0,
        "many attempts in 10 minutes": 20 if tx["attempts_last_10_min"] >= 5 else 0,
    }
    return {name: points for name, points in signals.items() if points}


async def fraud(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    tx = ctx.dependencies["validate"].output["transaction"]
    signals = fraud_signals(tx)
    score = sum(signals.values())
    if score >= FRAUD_THRESHOLD:
        # Final: retrying will not make the transaction less fraudulent.
        raise GiveUp(
            f"fraud score {score} >= {FRAUD_THRESHOLD} ({', '.join(signals)}); "
            f"transaction {tx['id']} is declined"
        )
    return {"transaction": tx, "score": score, "signals": signals}


async def payments(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    tx = ctx.dependencies["fraud_check"].output["transaction"]
    return {
        "charge": f"ch_{tx['id']}",
        "amount": tx["amount"],
        "currency": tx["currency"],
        "email": tx["customer"]["email"],
        "status": "captured",
    }


async def accounting(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    charge = ctx.dependencies["payment"].output
    return {
        "journal": [
            {"account": "cash", "debit": charge["amount"]},
            {"account": "revenue", "credit": charge["amount"]},
        ],
        "reference": charge["charge"],
    }


async def notifier(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    charge = ctx.dependencies["payment"].output
    return {
        "to": charge["email"],
        "subject": f"Receipt: {charge['amount']:.2f} {charge['currency']} ({charge['charge']})",
        "sent": True,
    }


AGENTS = {
    "validator": validator,
    "fraud": fraud,
    "payments": payments,
    "accounting": accounting,
    "notifier": notifier,
}
