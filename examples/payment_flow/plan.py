"""The plan: validate -> fraud_check -> payment -> {accounting, confirmation_email}.

One transaction is one run. ``on_failure: cascade`` (the default, spelled out here) is
the rule that matters: when the fraud check fails for good, everything that depends on
it fails in the same transaction, naming the fraud check as the root cause, and is never
claimed — no charge, no ledger entry, no "thanks for your payment" email.
"""

from __future__ import annotations

from typing import Any

ROLES = ["validator", "fraud", "payments", "accounting", "notifier"]

TRANSACTIONS: dict[str, dict[str, Any]] = {
    "clean": {
        "id": "tx-7001",
        "amount": 49.90,
        "currency": "USD",
        "merchant": "Northwind Books",
        "card": {"last4": "4242", "country": "US"},
        "customer": {"email": "ana@example.com", "account_age_days": 812},
        "ip_country": "US",
        "attempts_last_10_min": 1,
    },
    "fraudulent": {
        "id": "tx-7002",
        "amount": 4850.00,
        "currency": "USD",
        "merchant": "Gift Cards Direct",
        "card": {"last4": "0019", "country": "US"},
        "customer": {"email": "new-user-93@example.net", "account_age_days": 0},
        "ip_country": "RO",
        "attempts_last_10_min": 6,
    },
}


def plan_for(tx: dict[str, Any]) -> dict[str, Any]:
    return {
        "goal": f"Process transaction {tx['id']}",
        "roles": ROLES,
        "labels": ["pipeline", "payments"],
        "tasks": [
            {
                "id": "validate",
                "title": "Validate the transaction",
                "role": "validator",
                "input": {"transaction": tx},
            },
            {
                "id": "fraud_check",
                "title": "Fraud check",
                "role": "fraud",
                "depends_on": ["validate"],
                "on_failure": "cascade",
            },
            {
                "id": "payment",
                "title": "Capture the payment",
                "role": "payments",
                "depends_on": ["fraud_check"],
            },
            {
                "id": "accounting",
                "title": "Post to the ledger",
                "role": "accounting",
                "depends_on": ["payment"],
            },
            {
                "id": "confirmation_email",
                "title": "Email the receipt",
                "role": "notifier",
                "depends_on": ["payment"],
            },
        ],
    }
