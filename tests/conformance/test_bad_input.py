"""Bad input gets a specific BatonError naming what was wrong, and changes nothing.
Each case was an escape before: a NaN lease that never expires, an infinite cost that
never pauses, run ids with escapes or slashes, outputs that are not JSON, nesting that
overflowed the stack, numbers that overflowed the column."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from baton import InvalidArgument, InvalidPlan, LeaseLost, Limits, SyncBoard, load_plan
from tests.conformance._util import claim, refused, unchanged, unsendable
from tests.helpers import plan, task

BAD_NUMBERS = [math.nan, math.inf, -math.inf, 0, -1, 10**12, True, "5"]


@pytest.mark.parametrize("lease_s", BAD_NUMBERS)
def test_a_lease_must_be_a_finite_positive_duration(board: SyncBoard, lease_s: Any) -> None:
    board.create_run(plan(task("a")))
    err = refused(board, InvalidArgument, board.claim, "w1", ["worker"], lease_s=lease_s)
    assert "lease_s" in str(err)
    lease = claim(board)
    refused(
        board, InvalidArgument, board.heartbeat, lease.task.id, lease.token, "w1", lease_s=lease_s
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("cost_usd", math.nan), ("cost_usd", math.inf), ("cost_usd", -0.5), ("input_tokens", -1),
     ("input_tokens", 2**64), ("output_tokens", 1.5), ("input_tokens", math.nan)],
)  # fmt: skip
def test_usage_must_be_finite_and_not_negative(board: SyncBoard, field: str, value: Any) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board)
    usage: dict[str, Any] = {"input_tokens": 1, "output_tokens": 1, "cost_usd": 0.0, field: value}
    err = refused(
        board, InvalidArgument, board.record_usage, lease.task.id, model="m", actor="w1", **usage
    )
    assert field in str(err) and lease.task.id in str(err)


BAD_RUN_IDS = [
    "", " ", "a/b", "../../etc/passwd", "x'; DROP TABLE tasks;--", "line\nbreak",
    "\x1b[31mred\x1b[0m", "é" * 300, "a" * 201, "tab\there",
]  # fmt: skip


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_a_run_id_is_validated_like_a_task_id(board: SyncBoard, run_id: str) -> None:
    err = refused(board, InvalidArgument, board.create_run, plan(task("a")), run_id=run_id)
    assert "invalid run id" in str(err)
    assert "\x1b" not in str(err) and "\n" not in str(err)  # printed back safely


def test_no_run_id_picks_one_and_a_good_one_is_kept(board: SyncBoard) -> None:
    assert board.create_run(plan(task("a"))).id.startswith("r-")
    assert board.create_run(plan(task("a")), run_id="Sprint-12.b_2").id == "Sprint-12.b_2"


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


NOT_JSON = [
    pytest.param({"x": {1, 2}}, "set", id="set"),
    pytest.param({"x": math.nan}, "not a JSON number", id="nan"),
    pytest.param({"x": [math.inf]}, "not a JSON number", id="inf"),
    pytest.param({1: "a"}, "not a string", id="int-key"),
    pytest.param({"x": 2**70}, "64 bits", id="huge-int"),
    pytest.param(_nested(5000), "deeper than 64", id="deep"),
    pytest.param({"x": object()}, "not a JSON value", id="object"),
    pytest.param({"x": "y" * 1_100_000}, "Limits.max_json_bytes", id="10MB"),
]


@pytest.mark.parametrize(("output", "why"), NOT_JSON)
def test_an_output_must_be_plain_json_within_the_limits(
    board: SyncBoard, output: Any, why: str
) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board)
    err = refused(
        board, InvalidArgument, board.submit, lease.task.id, lease.token, output, participant="w1"
    )
    if unsendable(board, output):
        assert "cannot send" in str(err)
        return
    assert why in str(err) and lease.task.id in str(err)


@pytest.mark.parametrize(("value", "why"), NOT_JSON)
def test_a_task_input_must_be_plain_json_within_the_limits(
    board: SyncBoard, value: Any, why: str
) -> None:
    if unsendable(board, value):
        refused(board, InvalidArgument, board.create_run, plan(task("a", input={"v": value})))
        return
    err = refused(board, InvalidPlan, board.create_run, plan(task("a", input={"v": value})))
    assert why in str(err) and "'a'" in str(err)


@pytest.mark.parametrize(("value", "why"), NOT_JSON[:4])
def test_errors_messages_and_evidence_must_be_plain_json(
    board: SyncBoard, value: Any, why: str
) -> None:
    run = board.create_run(plan(task("a")))
    lease = claim(board)
    refused(
        board,
        InvalidArgument,
        board.fail,
        lease.task.id,
        lease.token,
        {"v": value},
        participant="w1",
    )
    refused(
        board,
        InvalidArgument,
        board.escalate,
        run.id,
        "agent",
        "help",
        evidence={"v": value},
        actor="w1",
    )
    refused(
        board,
        InvalidArgument,
        board.post_message,
        run.id,
        "note",
        {"text": "t", "data": {"v": value}},
        sender="w1",
    )


@pytest.mark.parametrize(
    "spec",
    [{"priority": 2**70}, {"lease_s": math.nan}, {"lease_s": math.inf}, {"timeout_s": math.inf},
     {"backoff_base_s": math.nan}, {"lease_s": 10**9}],
)  # fmt: skip
def test_numbers_in_a_plan_must_be_finite_and_in_range(
    board: SyncBoard, spec: dict[str, Any]
) -> None:
    err = refused(board, InvalidPlan, board.create_run, plan(task("a", **spec)))
    assert "'a'" in str(err) or "tasks.0" in str(err)


@pytest.mark.parametrize(
    "budget", [{"tokens": -1}, {"cost_usd": math.nan}, {"wall_s": math.inf}, {"tokens": "many"}]
)
def test_a_bad_budget_on_resume_is_invalid_argument_naming_the_run(
    board: SyncBoard, budget: dict[str, Any]
) -> None:
    run = board.create_run(plan(task("a")))
    board.pause_run(run.id, actor="h", reason="look")
    err = refused(board, InvalidArgument, board.resume_run, run.id, actor="h", budget=budget)
    assert run.id in str(err) and "invalid budget" in str(err)


def test_text_has_a_length_limit(store_url: str, tmp_path: Path) -> None:
    board = SyncBoard.open(store_url, limits=Limits(max_text=100))
    with board:
        run = board.create_run(plan(task("a")))
        lease = claim(board)
        refused(
            board,
            InvalidArgument,
            board.block,
            lease.task.id,
            lease.token,
            "x" * 101,
            participant="w1",
        )
        refused(board, InvalidArgument, board.pause_run, run.id, actor="h", reason="x" * 101)
        refused(board, InvalidPlan, board.create_run, plan(task("b", title="t" * 101)))


def test_limits_are_configurable(store_url: str) -> None:
    with SyncBoard.open(store_url, limits=Limits(max_json_bytes=50, max_tasks=2)) as board:
        err = refused(board, InvalidPlan, board.create_run, plan(task("a"), task("b"), task("c")))
        assert "Limits.max_tasks" in str(err)
        board.create_run(plan(task("a")))
        lease = claim(board)
        err2 = refused(
            board,
            InvalidArgument,
            board.submit,
            lease.task.id,
            lease.token,
            {"x": "y" * 60},
            participant="w1",
        )
        assert "Limits.max_json_bytes" in str(err2)


def test_a_forged_token_is_said_to_be_one_never_issued(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board)
    for forged in (lease.token + 5, 0, -3):
        err = refused(board, LeaseLost, board.submit, lease.task.id, forged, {}, participant="w1")
        assert "not one this task ever issued" in str(err)


def test_a_thousand_bad_tasks_keep_every_problem_but_a_short_message(board: SyncBoard) -> None:
    bad = plan(*[task(f"t{i}", role="nobody") for i in range(1000)])
    err = refused(board, InvalidPlan, board.create_run, bad)
    assert len(err.problems) >= 1000
    assert len(str(err).splitlines()) <= InvalidPlan.SHOWN + 2
    assert "more (every one is on InvalidPlan.problems)" in str(err)


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [("plan.json", b"\xff\xfe{", "not UTF-8"), ("plan.json", b"[" * 100_000, "nests too deeply"),
     ("plan.txt", b"goal: x", ".yaml, .yml or .json"), ("plan.json", b"", "not valid json")],
)  # fmt: skip
def test_a_bad_plan_file_is_invalid_plan_naming_it(
    tmp_path: Path, name: str, content: bytes, why: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidPlan) as info:
        load_plan(path)
    assert why in str(info.value) and name in str(info.value)


def test_nothing_changed_means_nothing(board: SyncBoard) -> None:
    with unchanged(board):
        pass


@pytest.mark.parametrize("limit", [0, -4638034504949629, 101, True])
def test_similar_ids_refuses_a_limit_out_of_range(board: SyncBoard, limit: Any) -> None:
    board.create_run(plan(task("a")))
    refused(board, InvalidArgument, board.similar_ids, "run", "r", limit=limit)
