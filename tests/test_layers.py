"""The layer contract is enforced, not just written down: ``make lint`` runs
``lint-imports``, and here a copy of the package with one upward import must fail it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "pyproject.toml", cwd / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    result = _lint(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_lower_layer_importing_a_higher_one_fails_lint(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "baton", copy / "baton")
    errors = copy / "baton" / "model" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport baton.runtime.worker  # upward\n")
    result = _lint(copy, tmp_path)
    assert result.returncode != 0
    assert "Layers import downward only BROKEN" in result.stdout
    assert "baton.model.errors -> baton.runtime.worker" in result.stdout


def test_the_runtime_touching_the_store_fails_lint(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "baton", copy / "baton")
    worker = copy / "baton" / "runtime" / "worker.py"
    worker.write_text(worker.read_text() + "\nimport baton.store.sqlite  # past the Board\n")
    result = _lint(copy, tmp_path)
    assert result.returncode != 0
    assert "Only the board layer touches the store BROKEN" in result.stdout
