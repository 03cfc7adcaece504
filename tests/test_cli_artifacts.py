"""``baton artifacts``, ``baton artifact show|history|diff|write`` and ``baton
reservations``: the real command in a subprocess, on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from baton import SyncBoard
from tests.helpers import EVENT_TABLES, plan, task

ROOT = Path(__file__).resolve().parent.parent


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}


def baton(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
    )


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    with SyncBoard.open(path, create=True) as board:
        board.create_run(plan(task("a"), task("b", deps=("a",))), run_id="r1")
    return path


def shared_state(db: str) -> dict[str, Any]:
    """Every row but the event log (a refused write records its conflict there)."""
    with SyncBoard.open(db) as board:
        rows = board.snapshot()
    return {table: found for table, found in rows.items() if table not in EVENT_TABLES}


def test_write_show_history_diff_round_trip(db: str, tmp_path: Path) -> None:
    first = tmp_path / "design.md"
    first.write_bytes(b"# Design\none\n\ttwo\nthree\n")
    r = baton("artifact", "write", "r1", "design.md", str(first), "--db", db, "--as", "human:ann")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "r1:design.md version 1 written"

    r = baton(
        "artifact", "write", "r1", "design.md", "-", "--base", "1", "--db", db, "--json",
        stdin="# Design\none\nTWO\nthree\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout)
    assert written["version"]["version"] == 2 and written["version"]["base"] == 1

    # Redirected, show gives the stored bytes back exactly.
    raw = tmp_path / "raw.txt"
    raw.write_bytes(b"CRLF\r\n\ttab\n\x1b[31m escape, no final newline")
    assert baton("artifact", "write", "r1", "raw.txt", str(raw), "--db", db).returncode == 0
    for name, version, expected in (("design.md", "1", first), ("raw.txt", "1", raw)):
        shown = subprocess.run(
            [sys.executable, "-m", "baton", "artifact", "show", "r1", name, "--version", version],
            capture_output=True,
            cwd=ROOT,
            env={**clean_env(), "BATON_DB": db},
            timeout=60,
        )
        assert shown.returncode == 0 and shown.stdout == expected.read_bytes()
    assert baton("artifact", "show", "r1", "design.md", "--db", db).stdout == (
        "# Design\none\nTWO\nthree\n"
    )
    whole = json.loads(baton("artifact", "show", "r1", "design.md", "--db", db, "--json").stdout)
    assert whole["artifact"]["head"] == whole["version"]["version"] == 2
    assert whole["content"] == "# Design\none\nTWO\nthree\n"

    history = baton("artifact", "history", "r1", "design.md", "--db", db)
    assert history.returncode == 0, history.stderr
    for column in ("version", "author", "size", "base", "merged_with", "time"):
        assert column in history.stdout
    assert "human:ann" in history.stdout
    versions = json.loads(
        baton("artifact", "history", "r1", "design.md", "--db", db, "--json").stdout
    )
    assert [(v["version"], v["base"]) for v in versions] == [(1, None), (2, 1)]
    assert versions[0]["author"] == "human:ann"

    diff = baton("artifact", "diff", "r1", "design.md", "1", "--db", db)
    assert diff.returncode == 0, diff.stderr
    lines = diff.stdout.splitlines()
    assert lines[:2] == ["--- r1:design.md@1", "+++ r1:design.md@2"]
    assert "-\ttwo" in lines and "+TWO" in lines and " three" in lines
    assert baton("artifact", "diff", "r1", "design.md", "2", "2", "--db", db).stdout == ""

    listed = baton("artifacts", "r1", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert "design.md" in listed.stdout and "(run)" in listed.stdout and "merge" in listed.stdout
    assert "raw.txt" in listed.stdout


def test_json_artifacts_in_a_task_scope(db: str, tmp_path: Path) -> None:
    r = baton(
        "artifact", "write", "r1", "decision", "-", "--kind", "json", "--scope", "a",
        "--strategy", "refuse", "--db", db, stdin='{"db": "postgres", "replicas": [1, 2]}',
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "r1/a:decision version 1 written"
    # Without --kind, a JSON artifact's next version is parsed as JSON, not kept as a string.
    again = tmp_path / "decision.json"
    again.write_text('{"db": "sqlite", "replicas": [1, 2]}')
    r = baton("artifact", "write", "r1", "decision", str(again), "--base", "1", "--scope", "r1/a",
              "--db", db)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = baton("artifact", "write", "r1", "decision", "-", "--patch", "--base", "2",
              "--scope", "a", "--db", db, stdin='{"replicas": null, "owner": "ann"}')  # fmt: skip
    assert r.returncode == 0, r.stderr
    shown = baton("artifact", "show", "r1", "decision", "--scope", "a", "--db", db)
    assert json.loads(shown.stdout) == {"db": "sqlite", "owner": "ann"}
    assert '\n  "db": "sqlite",\n' in shown.stdout  # pretty-printed
    diff = baton("artifact", "diff", "r1", "decision", "1", "2", "--scope", "a", "--db", db)
    assert '-  "db": "postgres",' in diff.stdout and '+  "db": "sqlite",' in diff.stdout
    listed = json.loads(baton("artifacts", "r1", "--task", "b", "--db", db, "--json").stdout)
    assert [(a["scope"], a["name"], a["kind"], a["strategy"], a["head"]) for a in listed] == [
        ("r1/a", "decision", "json", "refuse", 3)
    ]


def test_a_conflict_prints_the_hunks_and_exits_1_writing_nothing(db: str) -> None:
    with SyncBoard.open(db) as board:
        board.write_artifact("r1", "notes.md", "one\ntwo\nthree\n")
        board.write_artifact("r1", "notes.md", "one\nTWO\nthree\n", base=1, author="bob")
        board.write_artifact("r1", "plan", {"owner": "bob", "due": 1})
        board.write_artifact("r1", "plan", {"owner": "cy", "due": 1}, base=1)
    before = shared_state(db)

    r = baton("artifact", "write", "r1", "notes.md", "-", "--base", "1", "--db", db,
              stdin="one\n2\nthree\n")  # fmt: skip
    assert r.returncode == 1
    line = one_line(r)
    assert line.startswith("conflict: artifact r1:notes.md is at version 2")
    assert "read version 1" in line and "re-read and retry" in line
    assert r.stdout.splitlines() == [
        "hunk 1 of 1, at line 2:",
        "  base (what you read: version 1):",
        "    two",
        "  head (version 2):",
        "    TWO",
        "  mine (your write):",
        "    2",
    ]

    r = baton("artifact", "write", "r1", "plan", "-", "--base", "1", "--db", db, "--json",
              stdin='{"owner": "dee", "due": 1}')  # fmt: skip
    assert r.returncode == 1
    refused = json.loads(r.stdout)["conflict"]
    assert (refused["base"], refused["head"]) == (1, 2)
    assert refused["hunks"] == [{"field": "/owner", "base": "bob", "head": "cy", "mine": "dee"}]
    plain = baton("artifact", "write", "r1", "plan", "-", "--base", "1", "--db", db,
                  stdin='{"owner": "dee", "due": 1}')  # fmt: skip
    assert "hunk 1 of 1, field /owner:" in plain.stdout and '    "dee"' in plain.stdout

    # Creating what exists already is a conflict too: read it and name the version read.
    r = baton("artifact", "write", "r1", "notes.md", "-", "--db", db, stdin="new\n")
    assert r.returncode == 1
    assert "read it and name the version read" in one_line(r)

    assert shared_state(db) == before
    with SyncBoard.open(db) as board:
        conflicts = list(board.subscribe(run_id="r1", kinds=("artifact.conflict",), idle_timeout=0))
        assert len(conflicts) == 4
        assert board.read_artifact("r1", "notes.md").content == "one\nTWO\nthree\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("artifacts", "r2"), "no run with id 'r2'"),
        (("artifact", "show", "r2", "x"), "no run with id 'r2'"),
        (("artifact", "history", "r2", "x"), "no run with id 'r2'"),
        (("artifact", "diff", "r2", "x", "1"), "no run with id 'r2'"),
        (("reservations", "r2"), "no run with id 'r2'"),
        (("artifact", "show", "r1", "../etc/passwd"), "invalid artifact name '../etc/passwd'"),
        (("artifact", "show", "r1", "ghost.md"), "no artifact with id 'r1:ghost.md'"),
        (("artifact", "show", "r1", "seed.md", "--version", "7"), "'r1:seed.md@7'"),
        (("artifact", "diff", "r1", "seed.md", "1", "9"), "'r1:seed.md@9'"),
        (("artifact", "show", "r1", "seed.md", "--scope", "zz"), "no artifact with id 'r1/zz:"),
        (("artifacts", "r1", "--task", "zz"), "no task with id 'r1/zz'"),
        (("artifact", "write", "r1", "x", "missing.txt"), "cannot read missing.txt"),
        (("artifact", "write", "r1", "bad//name", "-"), "invalid artifact name 'bad//name'"),
        (("artifact", "write", "r1", "x", "-", "--kind", "json"), "stdin is not JSON"),
        (("artifact", "write", "r1", "seed.md", "-", "--base", "5"), "no version 5 (head is 1)"),
        (("artifact", "write", "r1", "x", "-", "--scope", "zz"), "no task with id 'r1/zz'"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_bad_input_is_one_clear_line_and_exit_2(
    db: str, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    with SyncBoard.open(db) as board:
        board.write_artifact("r1", "seed.md", "seed\n")
    before = shared_state(db)
    r = subprocess.run(
        [sys.executable, "-m", "baton", *args, "--db", db],
        capture_output=True,
        text=True,
        input="not json {",
        timeout=60,
        cwd=tmp_path,  # missing.txt is looked up here
        env=clean_env(),
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    line = one_line(r)
    assert line.startswith("error: ") and says in line, line
    assert r.stdout == ""
    assert shared_state(db) == before
    if "no run" in says:
        assert "did you mean r1?" in line


def test_a_file_that_is_not_json_names_itself(db: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("plain words\n")
    r = baton("artifact", "write", "r1", "cfg", str(notes), "--kind", "json", "--db", db)
    assert r.returncode == 2
    line = one_line(r)
    assert f"{notes} is not JSON (Expecting value at line 1 column 1)" in line
    assert "--kind text" in line
    notes.write_bytes(b"\xff\xfe binary")
    r = baton("artifact", "write", "r1", "cfg", str(notes), "--db", db)
    assert r.returncode == 2 and "is not UTF-8 text" in one_line(r)
    with SyncBoard.open(db) as board:
        assert board.artifacts("r1") == []


def test_reservations_lists_what_the_python_api_reserved(db: str) -> None:
    assert baton("reservations", "r1", "--db", db).stdout.strip() == "no reservations on run r1"
    with SyncBoard.open(db) as board:
        lease = board.claim("worker-7", ["worker"], run_id="r1", lease_s=300)
        assert lease is not None
        [taken] = board.reserve(lease.task.id, lease.token, ["src/api/**"], participant="worker-7")
    for args in (("reservations", "r1"), ("reservations",)):
        r = baton(*args, "--db", db)
        assert r.returncode == 0, r.stderr
        [row] = [line for line in r.stdout.splitlines() if "src/api/**" in line]
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[:5] == ["src/api/**", "exclusive", "worker-7", "r1/a", str(taken.id)]
        seconds = int(cells[5].removesuffix(" s"))
        assert 200 < seconds <= 300
        for column in ("resource", "mode", "holder", "task", "fencing id", "expires in"):
            assert column in r.stdout
    listed = json.loads(baton("reservations", "r1", "--db", db, "--json").stdout)
    assert listed == [taken.model_dump(mode="json")]

    # Another task's exclusive reservation refuses a write under it: one line, exit 1.
    r = baton("artifact", "write", "r1", "src/api/routes.py", "-", "--db", db, stdin="x\n")
    assert r.returncode == 1
    line = one_line(r)
    assert line.startswith("failed: ") and "reserved by worker-7 for task 'r1/a'" in line
