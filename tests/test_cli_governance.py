"""The governance commands end to end on a real store: ``baton policy set|show|check``
and ``baton trace`` (Gantt and OTLP/JSON), bad input a clear error changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from baton import Board, FunctionAgent, SyncBoard, Worker
from baton.interfaces.cli.app import app
from baton.model.errors import InvalidArgument, InvalidPlan
from baton.views.trace_export import span_id_of, trace_id_of
from tests.helpers import plan, task

POLICY = {"name": "acme", "approvals": [{"name": "deploys", "roles": ["deployer"]}],
          "create_runs": {"participants": ["lead"]}}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "board.db")
    with SyncBoard.open(path):
        pass
    return path


def test_policy_set_show_check(tmp_path: Path, db: str) -> None:
    runner = CliRunner()
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    (tmp_path / "plan.yaml").write_text(
        yaml.safe_dump(plan(task("ship", "deployer"), roles=("deployer",)))
    )
    done = runner.invoke(app, ["policy", "set", str(tmp_path / "policy.yaml"), "--db", db])
    assert done.exit_code == 0, done.output
    assert "version 1" in done.output
    shown = runner.invoke(app, ["policy", "show", "--db", db])
    assert json.loads(shown.output)["policy"]["name"] == "acme"
    checked = runner.invoke(app, ["policy", "check", str(tmp_path / "plan.yaml"), "--db", db])
    assert checked.exit_code == 0, checked.output
    assert "needs human approval" in checked.output and "deploys" in checked.output
    with SyncBoard.open(db) as board:
        assert board.list_runs() == []
        _, token = board.add_participant("eve", kind="human", grants=["create_runs"])
    refused = runner.invoke(
        app, ["policy", "check", str(tmp_path / "plan.yaml"), "--db", db, "--token", token]
    )
    assert refused.exit_code == 1 and "REFUSED" in refused.output


def test_policy_bad_files_change_nothing(tmp_path: Path, db: str) -> None:
    runner = CliRunner()
    (tmp_path / "bad.yaml").write_text("approvals: [{roles: [x]}]\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    for name in ("bad.yaml", "list.yaml", "missing.yaml"):
        result = runner.invoke(app, ["policy", "set", str(tmp_path / name), "--db", db])
        assert isinstance(result.exception, InvalidArgument), (name, result.output)
    with SyncBoard.open(db) as board:
        assert board.policy() is None
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "nope.yaml"), "--db", db])
    assert isinstance(result.exception, InvalidPlan)


def test_trace_draws_the_run_and_exports_its_spans(tmp_path: Path, db: str) -> None:
    import asyncio

    async def work() -> str:
        board = Board.open(db)
        try:
            run = await board.create_run(plan(task("a"), task("b", deps=("a",)), task("c")))
            calls = {"n": 0}

            def agent(ctx: object) -> dict[str, bool]:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise RuntimeError("first attempt fails")
                return {"ok": True}

            spec = FunctionAgent(agent, roles=["worker"])
            await asyncio.wait_for(Worker(board, [spec], name="w1", watchdog=False).run(
                run_id=run.id), 60)  # fmt: skip
            return run.id
        finally:
            await board.close()

    run_id = asyncio.run(work())
    runner = CliRunner()
    drawn = runner.invoke(app, ["trace", run_id, "--db", db])
    assert drawn.exit_code == 0, drawn.output
    assert "w1" in drawn.output and "1 retried" in drawn.output
    assert "critical path" in drawn.output and trace_id_of(run_id) in drawn.output
    out = tmp_path / "spans.json"
    exported = runner.invoke(app, ["trace", run_id, "--db", db, "--otlp-json", str(out)])
    assert exported.exit_code == 0, exported.output
    spans = json.loads(out.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert {s["traceId"] for s in spans} == {trace_id_of(run_id)}
    ids = {s["spanId"] for s in spans}
    assert all(s.get("parentSpanId") in ids for s in spans if "parentSpanId" in s)
    roots = [s for s in spans if "parentSpanId" not in s]
    assert [r["spanId"] for r in roots] == [span_id_of(run_id)]
    attempts = [s for s in spans if s["name"].startswith("attempt ")]
    assert len(attempts) == 4  # three tasks, one of them twice
    assert sum(s["status"]["code"] == 2 for s in attempts) == 1
    as_json = runner.invoke(app, ["trace", run_id, "--db", db, "--json"])
    assert len(json.loads(as_json.output)["attempts"]) == 4
    missing = runner.invoke(app, ["trace", "r-nope", "--db", db])
    assert missing.exception is not None
