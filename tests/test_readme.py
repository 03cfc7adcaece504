"""The README's quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- quickstart.*?-->\n```python\n(.*?)```", readme, re.DOTALL)
    assert block, "README lost its quickstart block"
    code = block.group(1)
    assert len(code.splitlines()) <= 22
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "finished"
    assert "run.finished" in result.stdout
    assert any("task.deps_done" in line and "payment" in line for line in lines)
