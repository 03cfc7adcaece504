"""Loading agents named on a command line or in configuration (``module:attribute``),
with a clear error for every way that can go wrong."""

from __future__ import annotations

import importlib
import os
import sys

from baton.model.errors import InvalidArgument
from baton.runtime.worker import AgentsLike, as_agents


def load_agents(spec: str) -> AgentsLike:
    """Import ``module:attribute`` naming agents: a list of agents, one agent, or a
    mapping of role -> function of the task context."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidArgument(f"--agents must look like module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an agent module that does not import: say why, briefly
        raise InvalidArgument(
            f"cannot import agent module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    if not hasattr(module, attr):
        raise InvalidArgument(f"agent module {module_name!r} has no attribute {attr!r}")
    found = getattr(module, attr)
    agents = as_agents(found)
    if not agents:
        raise InvalidArgument(f"{spec!r} holds no agents")
    return agents
