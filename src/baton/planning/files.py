"""Plan files: YAML or JSON on disk, validated whole like any plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from baton.model import Plan
from baton.model.errors import InvalidPlan, PlanProblem
from baton.planning.graph import parse_plan

#: A plan file larger than this is refused before it is parsed.
MAX_PLAN_FILE_BYTES = 20_000_000


def load_plan(path: str | Path) -> Plan:
    """Read and validate a ``.yaml``/``.yml``/``.json`` plan.

    Raises:
        InvalidPlan: unreadable, unparsable or invalid, naming the file and the faults.
    """
    p = Path(path)
    _check_suffix(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidPlan([PlanProblem("file", f"cannot read plan {p}: {exc.strerror}")]) from None
    return parse_plan_file(str(p), data)


def _check_suffix(p: Path) -> None:
    if p.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise InvalidPlan([PlanProblem("file", f"plan {p} must be a .yaml, .yml or .json file")])


def parse_plan_file(name: str, data: bytes) -> Plan:
    """Validate a plan file's bytes (read from disk, or uploaded: the web board), its
    format chosen by ``name``'s suffix.

    Raises:
        InvalidPlan: too large, not UTF-8, unparsable or invalid, naming ``name``.
    """
    p = Path(name)
    _check_suffix(p)
    if len(data) > MAX_PLAN_FILE_BYTES:
        raise InvalidPlan(
            [
                PlanProblem(
                    "file", f"plan {p} is {len(data):,} bytes; the limit is {MAX_PLAN_FILE_BYTES:,}"
                )
            ]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPlan(
            [PlanProblem("file", f"plan {p} is not UTF-8 text (byte {exc.start} is invalid)")]
        ) from None
    try:
        raw: Any = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, ValueError) as exc:
        raise InvalidPlan(
            [PlanProblem("syntax", f"{p} is not valid {p.suffix[1:]}: {exc}")]
        ) from None
    except RecursionError:
        raise InvalidPlan([PlanProblem("syntax", f"{p} nests too deeply to read")]) from None
    if not isinstance(raw, dict):
        raise InvalidPlan(
            [PlanProblem("syntax", f"{p} must hold a mapping with goal, roles, tasks")]
        )
    return parse_plan(raw)
