"""The feature team (hub-and-spoke): a planner decomposes the goal, specialists work in
parallel, a reviewer returns work with feedback, a human approves the deploy.

Every agent is an ``LLMAgent``. With ``BATON_MODEL`` set (and the provider's key in the
environment) they all use that model. Without it they run on Baton's deterministic
offline model, driven by the scripted playbook below — not a language model, and every
usage record says so (model ``baton-offline-deterministic``).
"""

from __future__ import annotations

import os
from typing import Any

from baton.runtime.agents.llm import LLMAgent
from baton.runtime.agents.offline import offline_model

GOAL = "Build the user profile page"
ROLES = ["backend", "frontend", "infra", "docs", "reviewer"]

#: $ per million tokens (input, output) for the cost table; extend for your models.
PRICES = {"gpt-4.1-mini": (0.40, 1.60), "claude-sonnet-4-5": (3.00, 15.00)}

SUBPLAN: dict[str, Any] = {
    "tasks": [
        {
            "id": "schema",
            "title": "Profile schema migration",
            "role": "backend",
            "acceptance_criteria": ["profiles table with display_name and avatar_url"],
            "output_contract": {
                "type": "object",
                "required": ["migration", "columns"],
                "properties": {
                    "migration": {"type": "string"},
                    "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
            },
        },
        {
            "id": "avatar_storage",
            "title": "Avatar storage bucket",
            "role": "infra",
            "acceptance_criteria": ["private bucket, signed URLs, 2 MB upload limit"],
        },
        {
            "id": "api",
            "title": "Profile API endpoint",
            "role": "backend",
            "depends_on": ["schema"],
            "output_contract": {
                "type": "object",
                "required": ["endpoint", "methods"],
                "properties": {
                    "endpoint": {"type": "string", "pattern": "^/"},
                    "methods": {"type": "array", "items": {"enum": ["GET", "PUT", "PATCH"]}},
                },
            },
        },
        {
            "id": "ui",
            "title": "Profile UI component",
            "role": "frontend",
            "depends_on": ["schema"],
            "reviewer_role": "reviewer",
            "acceptance_criteria": ["accessible", "handles slow networks"],
            "output_contract": {
                "type": "object",
                "required": ["component", "fixed"],
                "properties": {
                    "component": {"type": "string"},
                    "fixed": {"type": "array", "items": {"type": "string"}},
                    "draft": {"type": "integer"},
                },
            },
        },
        {
            "id": "tests",
            "title": "Integration tests",
            "role": "backend",
            "depends_on": ["api", "ui"],
        },
        {"id": "docs", "title": "API docs", "role": "docs", "depends_on": ["schema"]},
        {
            "id": "deploy",
            "title": "Deploy to production",
            "role": "infra",
            "depends_on": ["tests", "docs", "avatar_storage"],
            "requires_approval": True,
        },
    ]
}

UI_ISSUES = ["add alt text to the avatar image", "show a loading state while the profile loads"]

WORK: dict[str, dict[str, Any]] = {
    "schema": {"migration": "0007_profiles.sql", "columns": ["display_name", "avatar_url"]},
    "avatar_storage": {"bucket": "profile-avatars", "access": "private, signed URLs"},
    "api": {"endpoint": "/users/{id}/profile", "methods": ["GET", "PATCH"]},
    "tests": {"passed": 14, "failed": 0},
    "docs": {"page": "docs/api/profile.md", "sections": ["GET", "PATCH", "errors"]},
    "deploy": {"deployed": "profile-page", "version": "1.4.0"},
}


def playbook(card: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The offline model's script: what each role answers, deterministically."""
    task, mode = card.get("task"), card.get("mode")
    if mode == "review":
        if task == "ui" and not card.get("review_feedback"):
            return {"approve": False, "feedback": UI_ISSUES, "comment": "two accessibility gaps"}
        return {"approve": True, "feedback": [], "comment": "meets the acceptance criteria"}
    if task == "plan":
        return SUBPLAN
    if task == "ui":
        fixed = [i for r in card.get("review_feedback", []) for i in r["issues"]]
        return {"component": "ProfileCard.tsx", "fixed": fixed, "draft": 1 + bool(fixed)}
    return WORK.get(str(task))


def build_agents(model: Any = None) -> list[LLMAgent]:
    """One LLM agent per role, on ``model``, ``BATON_MODEL``, or the offline playbook."""
    latency = float(os.environ.get("BATON_OFFLINE_LATENCY_S", "0"))
    chosen = model or os.environ.get("BATON_MODEL") or offline_model(playbook, latency_s=latency)
    return [
        LLMAgent(roles=[role], model=chosen, name=f"{role}-agent", prices=PRICES)
        for role in ["planner", *ROLES]
    ]


AGENTS = build_agents()
