"""Agents, for users: anything that, given a task's context, returns its output.

``from baton.agents import FunctionAgent, LLMAgent, TaskContext, Verdict, agent`` —
this is the public path; the code lives in ``baton.runtime.agents``.

The LLM agents and the framework adapters (``LLMAgent``, ``PydanticAIAgent``,
``LangGraphAgent``, the offline model) are loaded on first use: their modules import
pydantic-ai and the OpenAI client, over a second of CPU at every process start, which a
worker running only function agents — and every process the chaos tests start — should
not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from baton.runtime.agents.context import (
    Agent,
    BudgetLeft,
    DependencyResult,
    TaskContext,
    Verdict,
)
from baton.runtime.agents.function import FunctionAgent, agent

if TYPE_CHECKING:
    from baton.runtime.agents.adapters import LangGraphAgent, PydanticAIAgent
    from baton.runtime.agents.llm import LLMAgent, resolve_model
    from baton.runtime.agents.offline import OFFLINE_MODEL_NAME, offline_model

#: The names loaded on first use, and the module each comes from.
_ON_FIRST_USE = {
    "LangGraphAgent": "baton.runtime.agents.adapters",
    "PydanticAIAgent": "baton.runtime.agents.adapters",
    "LLMAgent": "baton.runtime.agents.llm",
    "resolve_model": "baton.runtime.agents.llm",
    "OFFLINE_MODEL_NAME": "baton.runtime.agents.offline",
    "offline_model": "baton.runtime.agents.offline",
}


def __getattr__(name: str) -> Any:
    """Module attribute lookup (PEP 562) for the names in ``_ON_FIRST_USE``."""
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
