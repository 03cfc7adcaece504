"""OpenTelemetry metrics from a real run (the SDK's in-memory reader): attempts by
outcome with their claim-to-done durations, tokens and cost by role and run, tasks by
state from the watchdog's pass."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from baton import Board, Orchestrator, Worker
from tests.helpers import plan, task


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                found.setdefault(m.name, []).extend(m.data.data_points)
    return found


def test_a_run_reports_attempts_spend_and_states(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    calls = {"n": 0}
    first: dict[str, list[Any]] = {}  # the gauges before the work

    async def agent(ctx: Any) -> dict[str, bool]:
        calls["n"] += 1
        await ctx.record_usage(model="m1", input_tokens=100, output_tokens=20, cost_usd=0.5)
        if calls["n"] == 1:
            raise RuntimeError("first attempt fails")
        return {"ok": True}

    async def main() -> str:
        board = Board.open(str(tmp_path / "b.db"))
        try:
            run = await board.create_run(
                {**plan(*(task(f"t{i}", backoff_base_s=0) for i in range(3))),
                 "budget": {"cost_usd": 100.0}}
            )  # fmt: skip
            await Orchestrator(board).check_run(run)
            first.update(_points(reader))
            worker = Worker(board, {"worker": agent}, name="w1", watchdog=False)
            await asyncio.wait_for(worker.run(run_id=run.id), 60)
            await Orchestrator(board).check_run(await board.get_run(run.id))
            return run.id
        finally:
            await board.close()

    run_id = asyncio.run(main())
    points = _points(reader)
    attempts = {p.attributes["outcome"]: p.value for p in points["baton.attempts"]}
    assert attempts == {"done": 3, "failed": 1}
    durations = points["baton.attempt.duration"]
    assert sum(p.count for p in durations) == 4
    assert sum(p.value for p in points["baton.tokens"]) == 4 * 120
    assert sum(p.value for p in points["baton.cost_usd"]) == 2.0
    assert {p.attributes["baton.run.id"] for p in points["baton.cost_usd"]} == {run_id}

    def gauge(found: dict[str, list[Any]], name: str, label: str) -> dict[str, float]:
        return {p.attributes[label]: p.value for p in found[name]}

    before = gauge(first, "baton.tasks", "baton.task.state")
    assert before["ready"] == 3 and sum(before.values()) == 3  # every state, zeros too
    assert gauge(first, "baton.queue.depth", "baton.task.role") == {"worker": 3, "reviewer": 0}
    after = gauge(points, "baton.tasks", "baton.task.state")
    assert (after["done"], after["ready"], sum(after.values())) == (3, 0, 3)
    assert gauge(points, "baton.queue.depth", "baton.task.role") == {"worker": 0, "reviewer": 0}
