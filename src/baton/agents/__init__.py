"""Agents: anything that, given a task's context, returns its output."""

from __future__ import annotations

from baton.agents._context import Agent, BudgetLeft, DependencyResult, TaskContext, Verdict
from baton.agents.function import FunctionAgent, agent

__all__ = [
    "Agent",
    "BudgetLeft",
    "DependencyResult",
    "FunctionAgent",
    "TaskContext",
    "Verdict",
    "agent",
]
