"""The views the web board draws, on real boards: the timeline's attempts (waits,
retries, reviews) and the dependency graph's layout (layers, wrapping, collapsed
sub-plans, critical path, failure cascades)."""

from __future__ import annotations

from baton import SyncBoard
from baton.views.dependency_graph import MAX_COLUMN, layout
from baton.views.timeline import attempts, timeline, work_seconds
from tests.helpers import ManualClock, plan, task


def test_attempts_show_waits_retries_and_reviews(tmp_path) -> None:
    clock = ManualClock()
    with SyncBoard.open(str(tmp_path / "b.db"), clock=clock) as board:
        run = board.create_run(
            plan(task("a", reviewer_role="reviewer", backoff_base_s=0, max_attempts=3))
        )
        clock.advance(2)
        first = board.claim("w1", ["worker"])
        assert first is not None
        clock.advance(3)
        board.fail(first.task_id, first.token, "flaky", participant="w1")
        clock.advance(1)
        second = board.claim("w2", ["worker"])
        assert second is not None
        clock.advance(4)
        board.submit(second.task_id, second.token, {"ok": True}, participant="w2")
        review = board.claim("rev", ["reviewer"])
        assert review is not None
        clock.advance(1)
        board.approve(review.task_id, actor="rev", token=review.token)
        found = attempts(board.events(run.id))
    assert [(a.participant, a.kind, a.number, a.outcome) for a in found] == [
        ("w1", "work", 1, "retry"),
        ("w2", "work", 2, "to review"),
        ("rev", "review", 1, "approved"),
    ]
    assert [round(a.wait_s, 3) for a in found] == [2.0, 1.0, 0.0]
    assert [round(a.duration(clock()), 3) for a in found] == [3.0, 4.0, 1.0]
    assert found[0].retried and not found[1].retried
    drawn = timeline(found, now=clock())
    assert [lane.participant for lane in drawn.lanes] == ["w1", "w2", "rev"]
    assert round(drawn.span, 3) == 9.0
    assert round(work_seconds(found, now=clock())[run.id + "/a"], 3) == 8.0


def test_the_graph_layers_wraps_and_finds_the_critical_path(tmp_path) -> None:
    wide = [task(f"w{i}") for i in range(MAX_COLUMN + 5)]
    chain = [task("c1"), task("c2", deps=("c1",)), task("c3", deps=("c2",))]
    with SyncBoard.open(str(tmp_path / "b.db")) as board:
        run = board.create_run(plan(*wide, *chain))
        tasks = board.tasks(run.id)
    drawn = layout(tasks)
    xs = {n.task.key: n.x for n in drawn.nodes}
    assert xs["c1"] < xs["c2"] < xs["c3"]  # layers by dependency depth
    assert len({xs[f"w{i}"] for i in range(MAX_COLUMN + 5)}) == 2  # a wide layer wraps
    assert [t.split("/")[1] for t in drawn.critical_path] == ["c1", "c2", "c3"]
    assert all(e.critical for e in drawn.edges)
    weighted = layout(tasks, durations={f"{run.id}/w0": 100.0})
    assert [t.split("/")[1] for t in weighted.critical_path] == ["w0"]


def test_the_graph_marks_a_failure_cascade_and_collapses_sub_plans(tmp_path) -> None:
    with SyncBoard.open(str(tmp_path / "b.db")) as board:
        run = board.create_run(
            plan(
                task("root", max_attempts=1),
                task("after", deps=("root",)),
                task("lead", expand=True),
            )
        )
        for _ in range(2):
            lease = board.claim("w1", ["worker"])
            assert lease is not None
            if lease.task.key == "root":
                board.fail(lease.task_id, lease.token, "broken", participant="w1")
            else:
                sub = {"tasks": [task("x"), task("y", deps=("x",))]}
                board.submit(lease.task_id, lease.token, sub, participant="w1")
        tasks = board.tasks(run.id)
    drawn = layout(tasks)
    by_key = {n.task.key: n for n in drawn.nodes}
    assert by_key["root"].cascade_root and by_key["after"].cascade_from == f"{run.id}/root"
    assert [e.cascade for e in drawn.edges if e.target.endswith("/after")] == [True]
    assert {"x", "y"} <= set(by_key) and by_key["lead"].has_children
    folded = layout(tasks, collapsed={f"{run.id}/lead"})
    keys = {n.task.key for n in folded.nodes}
    assert "x" not in keys and "y" not in keys
    assert next(n for n in folded.nodes if n.task.key == "lead").hidden_children == 2


def test_collapsing_a_sub_plan_that_closes_a_cycle_loses_no_node(tmp_path) -> None:
    """P's child c2 waits on y, which waits on P's child c1: drawn as P, y and P close a
    cycle. Every node is still drawn."""
    with SyncBoard.open(str(tmp_path / "b.db")) as board:
        run = board.create_run(plan(task("p", expand=True)))
        lease = board.claim("w1", ["worker"])
        assert lease is not None
        board.submit(lease.task_id, lease.token, {"tasks": [task("c1")]}, participant="w1")
        board.add_tasks(run.id, [task("y", deps=("c1",))], actor="owner")
        tasks = board.tasks(run.id)
    parent = f"{run.id}/p"
    child = next(t for t in tasks if t.parent_id == parent)
    looped = [t.model_copy(update={"depends_on": [f"{run.id}/y"]}) if t.id == child.id else t
              for t in tasks]  # fmt: skip
    looped.append(child.model_copy(update={"id": f"{run.id}/c2", "key": "c2",
                                           "depends_on": [f"{run.id}/y"]}))  # fmt: skip
    drawn = layout(looped, collapsed={parent})
    assert {n.task.key for n in drawn.nodes} == {"p", "y"}


def test_a_second_review_waits_from_the_first_reviews_release(tmp_path) -> None:
    clock = ManualClock()
    with SyncBoard.open(str(tmp_path / "b.db"), clock=clock) as board:
        run = board.create_run(plan(task("a", reviewer_role="reviewer")))
        lease = board.claim("w1", ["worker"])
        assert lease is not None
        board.submit(lease.task_id, lease.token, {}, participant="w1")
        clock.advance(5)
        first = board.claim("r1", ["reviewer"])
        assert first is not None
        clock.advance(10)
        board.abandon_review(first.task_id, first.token, {"message": "later"}, participant="r1")
        clock.advance(5)
        second = board.claim("r2", ["reviewer"])
        assert second is not None
        reviews = [a for a in attempts(board.events(run.id)) if a.kind == "review"]
    assert [round(a.wait_s, 3) for a in reviews] == [5.0, 5.0]
