"""Agents, for users: anything that, given a task's context, returns its output.

``from baton.agents import FunctionAgent, LLMAgent, TaskContext, Verdict, agent`` —
this is the public path; the code lives in ``baton.runtime.agents``.
"""

from __future__ import annotations

from baton.runtime.agents.adapters import LangGraphAgent, PydanticAIAgent
from baton.runtime.agents.context import (
    Agent,
    BudgetLeft,
    DependencyResult,
    TaskContext,
    Verdict,
)
from baton.runtime.agents.function import FunctionAgent, agent
from baton.runtime.agents.llm import LLMAgent, resolve_model
from baton.runtime.agents.offline import OFFLINE_MODEL_NAME, offline_model

__all__ = [
    "OFFLINE_MODEL_NAME",
    "Agent",
    "BudgetLeft",
    "DependencyResult",
    "FunctionAgent",
    "LLMAgent",
    "LangGraphAgent",
    "PydanticAIAgent",
    "TaskContext",
    "Verdict",
    "agent",
    "offline_model",
    "resolve_model",
]
