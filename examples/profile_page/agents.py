"""Deterministic function agents for the profile-page plan (no model is called).

Each agent sleeps a moment to stand for real work, so the board visibly moves. The
reviewer returns the first draft of the docs with two issues and approves the rework.
"""

from __future__ import annotations

import time
from typing import Any

from baton.agents import TaskContext, Verdict

WORK_S = 0.8


def backend(ctx: TaskContext) -> dict[str, Any]:
    time.sleep(WORK_S)
    if ctx.task.key == "schema":
        return {"migration": "0007_profiles.sql", "columns": ["display_name", "avatar_url"]}
    if ctx.task.key == "api":
        return {"endpoint": "/users/{id}/profile", "methods": ["GET", "PATCH"]}
    return {"passed": 14, "failed": 0}


def frontend(ctx: TaskContext) -> dict[str, Any]:
    time.sleep(WORK_S)
    return {"component": "ProfileCard.tsx", "props": ["displayName", "avatarUrl"]}


def docs(ctx: TaskContext) -> dict[str, Any]:
    time.sleep(WORK_S)
    fixed = [item for round_ in ctx.feedback for item in round_["items"]]
    return {
        "page": "docs/api/profile.md",
        "sections": ["GET", "PATCH", *fixed],
        "draft": 1 + len(ctx.feedback),
    }


def reviewer(ctx: TaskContext) -> Verdict:
    time.sleep(WORK_S / 2)
    if ctx.task.key == "docs" and not ctx.feedback:
        return Verdict(
            approve=False,
            feedback=["add an example PATCH request body", "document the 404 for unknown users"],
        )
    return Verdict(approve=True, comment="looks good")


def ops(ctx: TaskContext) -> dict[str, Any]:
    time.sleep(WORK_S)
    return {"deployed": "profile-page", "version": "1.4.0"}


HANDLERS = {
    "backend": backend,
    "frontend": frontend,
    "docs": docs,
    "reviewer": reviewer,
    "ops": ops,
}
