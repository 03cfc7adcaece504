"""Exactly-once side effects across a crash: a worker process runs an effect (an
"e-mail" appended to a file standing for the outside world), records it, and is killed
with SIGKILL before it submits; the next worker's attempt gets the recorded result and
the e-mail is sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from baton import SyncBoard, TaskState
from tests.helpers import plan, task

TEAM = """
import os, pathlib, time

OUTBOX = pathlib.Path(os.environ["OUTBOX"])

def send(ctx):
    def deliver(key):
        with OUTBOX.open("a") as f:
            f.write(f"sent {key} by {ctx.participant}\\n")
        return {"message_id": "m-" + key[-8:], "by": ctx.participant}

    receipt = ctx.effect_sync("send_email", deliver)
    if ctx.participant == "doomed":
        time.sleep(600)  # killed here: after the effect ran and was recorded, before submit
    return {"receipt": receipt}

agents = {"worker": send}
"""


def _worker(tmp_path: Path, db: str, run_id: str, name: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.Popen(
        [sys.executable, "-m", "baton", "worker", "--agents", "team:agents", "--db", db,
         "--run", run_id, "--name", name, "--no-watchdog"],
        cwd=tmp_path,
        env={**env, "OUTBOX": str(tmp_path / "outbox"), "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.mark.timeout(120)
def test_an_effect_runs_once_across_a_sigkill_before_submit(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(TEAM)
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as board:
        run = board.create_run(plan(task("notify", lease_s=1.0, backoff_base_s=0)))
        doomed = _worker(tmp_path, db, run.id, "doomed")
        try:
            for event in board.subscribe(run_id=run.id, idle_timeout=30):
                if event.kind == "effect.recorded":
                    break
            else:
                pytest.fail("the first worker never recorded its effect")
            doomed.send_signal(signal.SIGKILL)
            doomed.communicate(timeout=10)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        assert doomed.returncode == -signal.SIGKILL
        survivor = _worker(tmp_path, db, run.id, "survivor")
        _, err = survivor.communicate(timeout=60)
        assert survivor.returncode == 0, err
        done = board.get_task(f"{run.id}/notify")
        kinds = [(e.kind, e.actor) for e in board.events(run.id)]
    sent = (tmp_path / "outbox").read_text().splitlines()
    assert len(sent) == 1, sent  # the e-mail went out once
    assert sent[0].endswith("by doomed")
    assert done.state is TaskState.DONE
    assert done.output == {"receipt": {"message_id": done.output["receipt"]["message_id"],
                                       "by": "doomed"}}  # fmt: skip
    assert ("effect.reused", "survivor") in kinds
    assert [k for k, _ in kinds].count("effect.started") == 1
    assert ("task.retry", "doomed") not in kinds  # the retry came from the lease expiring
