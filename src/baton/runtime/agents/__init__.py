"""Agents: anything that, given a task's context, returns its output."""

from __future__ import annotations

from baton.runtime.agents.context import Agent, BudgetLeft, DependencyResult, TaskContext, Verdict
from baton.runtime.agents.function import FunctionAgent, agent

__all__ = [
    "Agent",
    "BudgetLeft",
    "DependencyResult",
    "FunctionAgent",
    "TaskContext",
    "Verdict",
    "agent",
]
