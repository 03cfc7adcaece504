"""The public surface is pinned: a name added to or lost from ``baton`` (or
``baton.agents``) fails here, so every change to it is deliberate (as httpx does in
``tests/test_exported_members.py``)."""

from __future__ import annotations

import subprocess
import sys

import baton
import baton.agents

BATON = {
    "Action", "Agent", "AgentsLike", "BatonError", "BatonRuntimeError", "Board", "BoardAPI",
    "Budget", "BudgetLeft", "ContractViolation", "DEFAULT_MESSAGE_KINDS", "DependencyResult",
    "Duty", "Event", "EventKind", "FailurePolicy", "FunctionAgent", "GiveUp", "Handoff",
    "IdempotencyConflict", "InvalidArgument", "InvalidMessage", "InvalidPlan",
    "InvalidTransition", "Lease", "LeaseKind", "LeaseLost", "Limits", "NotFound", "Orchestrator",
    "Plan", "PlanProblem", "RUN_ENDED", "RetryLater", "Run", "RunFailed", "RunState",
    "SchemaTooNew", "Signal", "SqliteStore", "Store", "StoreNotFound", "StoreUnavailable",
    "SubPlan",
    "SubmitResult", "SyncBoard", "TERMINAL", "Task", "TaskBudget", "TaskChanges",
    "TaskContext", "TaskSpec", "TaskState", "TransientConflict", "UsageError", "Verdict",
    "Worker", "agent", "load_plan", "narrate", "open_store",
    # governance: effects, secrets, logging
    "EffectUncertain", "PolicyDenied", "SecretMissing", "configure_logging",
    # participants and permissions
    "Grant", "OWNER", "Participant", "ParticipantKind", "PermissionDenied", "Principal",
    "Unauthenticated",
    # the remote board
    "RemoteBoard", "connect", "connect_sync",
    # shared work: artifacts and reservations
    "Artifact", "ArtifactConflict", "ArtifactContent", "ArtifactKind", "ArtifactVersion",
    "ArtifactWrite", "Conflict", "MergeStrategy", "Reservation", "ReservationConflict",
    "ReservationMode",
}  # fmt: skip

AGENTS = {
    "Agent", "BudgetLeft", "DependencyResult", "FunctionAgent", "LLMAgent", "LangGraphAgent",
    "OFFLINE_MODEL_NAME", "PydanticAIAgent", "TaskContext", "Verdict", "agent",
    "offline_model", "resolve_model",
}  # fmt: skip


def _public(module: object) -> set[str]:
    return {n for n in vars(module) if not n.startswith("_") and n != "annotations"}


def test_baton_exports_exactly_the_pinned_names() -> None:
    assert set(baton.__all__) == BATON
    assert len(baton.__all__) == len(BATON), "a name is listed twice"
    for name in baton.__all__:
        assert getattr(baton, name) is not None


def test_baton_agents_exports_exactly_the_pinned_names() -> None:
    assert set(baton.agents.__all__) == AGENTS
    for name in baton.agents.__all__:
        assert getattr(baton.agents, name) is not None


def test_every_public_name_of_the_packages_is_in_all() -> None:
    """Nothing importable from ``baton`` by accident: the subpackages it imports are
    implementation detail, everything else is in ``__all__``."""
    layers = {"board", "model", "planning", "runtime", "store", "views", "agents", "interfaces"}
    assert _public(baton) - layers == set(baton.__all__)
    # The LLM agents and adapters are loaded on first use (the module's __getattr__),
    # with the three helpers that takes.
    lazy = set(baton.agents._ON_FIRST_USE)
    helpers = {"importlib", "TYPE_CHECKING", "Any"}
    assert _public(baton.agents) - helpers | lazy == set(baton.agents.__all__)


def test_importing_baton_and_its_agents_loads_no_llm_library() -> None:
    """A worker process that runs only function agents starts without pydantic-ai or
    the OpenAI client (over a second of CPU per process start); the first use of an
    LLM agent loads them."""
    code = (
        "import sys, baton, baton.agents\n"
        "heavy = {'pydantic_ai', 'openai', 'langgraph'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from baton.agents import LLMAgent\n"
        "assert 'pydantic_ai' in sys.modules and LLMAgent.__name__ == 'LLMAgent'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_every_error_a_user_can_see_is_a_baton_error() -> None:
    errors = [getattr(baton, n) for n in baton.__all__ if n.endswith(("Error", "Conflict"))]
    errors += [baton.ContractViolation, baton.InvalidPlan, baton.InvalidTransition]
    errors += [baton.LeaseLost, baton.NotFound, baton.RetryLater, baton.GiveUp]
    errors += [baton.RunFailed, baton.SchemaTooNew, baton.StoreUnavailable, baton.Signal]
    for error in errors:
        assert issubclass(error, baton.BatonError), error
