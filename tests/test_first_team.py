"""docs/first-team.md runs as written: a newcomer's first copy-paste works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_first_team_page_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "first-team.md").read_text()
    block = re.search(r"<!-- first-team -->\n```python\n(.*?)```", page, re.DOTALL)
    assert block, "docs/first-team.md lost its runnable block"
    promised = re.search(r"What it prints:\n\n```\n(.*?)```", page, re.DOTALL)
    assert promised
    (tmp_path / "first_team.py").write_text(block.group(1))
    result = subprocess.run(
        [sys.executable, "first_team.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == promised.group(1)
    assert (tmp_path / "team.db").exists()
