"""Plan files: YAML or JSON on disk, validated whole like any plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from baton.model import Plan
from baton.model.errors import InvalidPlan, PlanProblem
from baton.planning.graph import parse_plan


def load_plan(path: str | Path) -> Plan:
    """Read and validate a ``.yaml``/``.yml``/``.json`` plan.

    Raises:
        InvalidPlan: unreadable, unparsable or invalid, naming the file and the faults.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InvalidPlan([PlanProblem("file", f"cannot read plan {p}: {exc.strerror}")]) from None
    try:
        raw: Any = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidPlan(
            [PlanProblem("syntax", f"{p} is not valid {p.suffix[1:]}: {exc}")]
        ) from None
    if not isinstance(raw, dict):
        raise InvalidPlan(
            [PlanProblem("syntax", f"{p} must hold a mapping with goal, roles, tasks")]
        )
    return parse_plan(raw)
