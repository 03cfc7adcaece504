"""docs/artifacts.md's example runs as written and prints what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_artifacts_example_runs(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "artifacts.md").read_text()
    block = re.search(r"<!-- artifacts-example.*?-->\n```python\n(.*?)```", page, re.DOTALL)
    assert block, "docs/artifacts.md lost its example"
    result = subprocess.run(
        [sys.executable, "-c", block.group(1)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("3 True\n")
    assert "GET /tasks" in out and "problem+json" in out
    assert "conflict: GET /tasks vs POST /runs" in out
    assert "+GET /tasks" in out and "+problem+json" in out
