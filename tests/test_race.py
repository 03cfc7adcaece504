"""Race: 16 processes claiming from one SQLite file holding 2,000 ready tasks; every task
is claimed by exactly one and completed exactly once (the same race on PostgreSQL is in
tests/test_pg_faults.py)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.procs.race_check import race_and_check

PROCESSES = 16
TASKS = 2_000


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sixteen_processes_race_for_two_thousand_tasks(tmp_path: Path) -> None:
    counts, elapsed = race_and_check(
        str(tmp_path / "board.db"),
        processes=PROCESSES,
        tasks=TASKS,
        ctx=multiprocessing.get_context("spawn"),
        out_dir=tmp_path / "results",
        timeout_s=100,
    )
    print(f"\nrace: {PROCESSES} processes, {TASKS} tasks in {elapsed:.1f}s; per process {counts}")
