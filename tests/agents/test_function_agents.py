"""FunctionAgent and @agent on a real worker and board: sync and async functions,
timeouts, GiveUp, ordinary exceptions and contract violations."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from baton import Board, RunState, TaskState
from baton.agents import FunctionAgent, TaskContext, agent
from baton.model.errors import GiveUp, RetryLater
from tests.helpers import plan, task
from tests.worker_harness import kind_is, retried_once, task_events, the_task, work

pytestmark = pytest.mark.anyio

ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def one_task(**extra: Any) -> dict[str, Any]:
    return plan(task("t", "worker", **extra), roles=("worker",))


# --- building agents ---------------------------------------------------------------------------


def test_the_decorator_and_the_class_name_their_roles() -> None:
    @agent(role="backend")
    def build(ctx: TaskContext) -> dict[str, Any]:
        return {}

    @agent(role="a", roles=["b", "c"], name="multi")
    async def serve(ctx: TaskContext) -> dict[str, Any]:
        return {}

    assert isinstance(build, FunctionAgent)
    assert (build.name, build.roles) == ("build", ["backend"])
    assert (serve.name, serve.roles) == ("multi", ["a", "b", "c"])
    assert FunctionAgent(build.fn, roles="solo").roles == ["solo"]
    with pytest.raises(ValueError, match="'nobody' serves no role"):
        FunctionAgent(build.fn, roles=[], name="nobody")
    with pytest.raises(ValueError, match="'build' serves no role"):
        agent()(build.fn)


async def test_sync_and_async_functions_complete_a_chain(board: Board) -> None:
    threads: dict[str, str] = {}

    @agent(role="planner")
    def outline(ctx: TaskContext) -> dict[str, Any]:
        threads["outline"] = threading.current_thread().name
        return {"steps": [f"{ctx.input['topic']}-{i}" for i in range(3)]}

    @agent(roles=["builder"], name="bee")
    async def build(ctx: TaskContext) -> dict[str, Any]:
        threads["build"] = threading.current_thread().name
        steps = ctx.dependencies["outline"].output["steps"]
        assert ctx.dependencies["outline"].state is TaskState.DONE
        return {"built": [s.upper() for s in steps]}

    async def summarise(ctx: TaskContext) -> dict[str, Any]:
        return {"count": len(ctx.dependencies["build"].output["built"])}

    run = await board.create_run(
        plan(
            task("outline", "planner", input={"topic": "db"}),
            task("build", "builder", deps=("outline",)),
            task("check", "checker", deps=("build",)),
            roles=("planner", "builder", "checker"),
        )
    )
    # a sync function that returns an awaitable is awaited too
    checker = FunctionAgent(lambda ctx: summarise(ctx), roles=["checker"], name="checker")

    worker = await work(board, [outline, build, checker], run.id)

    outputs = {t.key: t.output for t in await board.tasks(run.id)}
    assert outputs == {
        "outline": {"steps": ["db-0", "db-1", "db-2"]},
        "build": {"built": ["DB-0", "DB-1", "DB-2"]},
        "check": {"count": 3},
    }
    assert (await board.get_run(run.id)).state is RunState.FINISHED
    assert worker.completed == 3 and worker.failed == 0
    main = threading.current_thread().name
    assert threads["build"] == main  # async: on the worker's loop
    assert threads["outline"] != main  # sync: in a thread


async def test_a_mapping_of_role_to_function_is_hosted_as_agents(board: Board) -> None:
    run = await board.create_run(one_task(input={"x": 20}))
    await work(board, {"worker": lambda ctx: {"doubled": ctx.input["x"] * 2}}, run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output) == (TaskState.DONE, {"doubled": 40})
    [claim] = [e for e in await task_events(board, t.id) if e.kind == "task.claim"]
    assert claim.actor == "w1"


async def test_a_slow_sync_function_keeps_its_lease_alive(board: Board) -> None:
    run = await board.create_run(one_task(lease_s=0.5))

    def slow(ctx: TaskContext) -> dict[str, Any]:
        threading.Event().wait(1.2)  # simulated work, over two lease lengths long
        return {"slow": True}

    await work(board, FunctionAgent(slow, roles=["worker"]), run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output, t.failures) == (TaskState.DONE, {"slow": True}, 0)
    kinds = [e.kind for e in await task_events(board, t.id)]
    assert kinds.count("task.lease_renewed") >= 2


# --- timeouts --------------------------------------------------------------------------------


async def test_a_sync_function_past_its_timeout_fails_the_attempt(board: Board) -> None:
    gate, returned = threading.Event(), threading.Event()

    def stuck(ctx: TaskContext) -> dict[str, Any]:
        gate.wait(10)  # bounded: the test opens the gate once the failure is recorded
        returned.set()
        return {"late": True}

    run = await board.create_run(one_task(timeout_s=0.3))
    try:
        await work(
            board, FunctionAgent(stuck, roles=["worker"]), run.id, until=kind_is("task.retry")
        )
        assert not returned.is_set()  # the attempt failed while the function still hung
    finally:
        gate.set()
        await asyncio.to_thread(returned.wait, 10)

    t = await retried_once(board, run.id)
    assert t.last_error == {
        "kind": "timeout",
        "agent": "stuck",
        "message": "agent stuck ran past 0.3s",
    }
    assert "task.complete" not in [e.kind for e in await task_events(board, t.id)]


async def test_an_async_function_past_its_timeout_is_cancelled(board: Board) -> None:
    cancelled = asyncio.Event()

    async def stuck(ctx: TaskContext) -> dict[str, Any]:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    run = await board.create_run(one_task(timeout_s=0.2))
    await work(board, FunctionAgent(stuck, roles=["worker"]), run.id, until=kind_is("task.retry"))
    assert cancelled.is_set()
    t = await the_task(board, run.id)
    assert t.state is TaskState.READY
    assert t.last_error is not None and t.last_error["kind"] == "timeout"


async def test_a_timeout_error_raised_by_the_agent_is_its_own_error(board: Board) -> None:
    def call_upstream(ctx: TaskContext) -> dict[str, Any]:
        raise TimeoutError("upstream API timed out after 5s")

    run = await board.create_run(one_task())
    await work(
        board, FunctionAgent(call_upstream, roles=["worker"]), run.id, until=kind_is("task.retry")
    )
    t = await the_task(board, run.id)
    assert t.last_error == {
        "kind": "exception",
        "agent": "call_upstream",
        "type": "TimeoutError",
        "message": "upstream API timed out after 5s",
    }


# --- failures --------------------------------------------------------------------------------


async def test_give_up_fails_the_task_for_good(board: Board) -> None:
    @agent(role="worker")
    def hopeless(ctx: TaskContext) -> dict[str, Any]:
        raise GiveUp("the repository was deleted")

    run = await board.create_run(
        plan(
            task("t", "worker", max_attempts=5),
            task("after", "worker", deps=("t",)),
            roles=("worker",),
        )
    )
    await work(board, hopeless, run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.failures, t.attempts) == (TaskState.FAILED, 1, 1)
    assert t.last_error == {
        "kind": "exception",
        "agent": "hopeless",
        "type": "GiveUp",
        "message": "the repository was deleted",
    }
    after = await the_task(board, run.id, "after")
    assert after.state is TaskState.FAILED  # the default cascade
    assert (await board.get_run(run.id)).state is RunState.FAILED


@pytest.mark.parametrize(
    ("exc", "kind"),
    [(ValueError("no such customer: 17"), "ValueError"), (RetryLater("rate limited"), "")],
)
async def test_any_other_exception_is_a_retryable_failure_naming_it(
    board: Board, exc: Exception, kind: str
) -> None:
    kind = kind or type(exc).__name__

    async def broken(ctx: TaskContext) -> dict[str, Any]:
        raise exc

    run = await board.create_run(one_task())
    await work(board, FunctionAgent(broken, roles=["worker"]), run.id, until=kind_is("task.retry"))

    t = await retried_once(board, run.id)
    assert t.last_error == {
        "kind": "retry_later" if isinstance(exc, RetryLater) else "exception",
        "agent": "broken",
        "type": kind,
        "message": str(exc),
    }
    [retry] = [e for e in await task_events(board, t.id) if e.kind == "task.retry"]
    assert retry.payload["error"] == t.last_error
    assert retry.payload["retry_in_s"] > 0
    assert t.not_before > t.updated_at


async def test_repeated_exceptions_fail_the_task_after_max_attempts(board: Board) -> None:
    calls: list[int] = []

    def flaky(ctx: TaskContext) -> dict[str, Any]:
        calls.append(ctx.task.attempts)
        raise RuntimeError(f"attempt {ctx.task.attempts} broke")

    run = await board.create_run(one_task(max_attempts=3, backoff_base_s=0))
    await work(board, FunctionAgent(flaky, roles=["worker"]), run.id)
    t = await the_task(board, run.id)
    assert calls == [1, 2, 3]
    assert (t.state, t.failures) == (TaskState.FAILED, 3)
    assert t.last_error is not None and t.last_error["message"] == "attempt 3 broke"


async def test_output_breaking_the_contract_fails_the_attempt_with_the_errors(
    board: Board,
) -> None:
    seen_errors: list[Any] = []

    def sloppy_then_careful(ctx: TaskContext) -> Any:
        seen_errors.append(ctx.card().get("previous_attempt_errors"))
        if ctx.task.attempts == 1:
            return {"answer": 42, "extra": True}
        return {"answer": "42"}

    run = await board.create_run(one_task(output_contract=ANSWER, backoff_base_s=0))
    worker = await work(board, FunctionAgent(sloppy_then_careful, roles=["worker"]), run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.output, t.failures) == (TaskState.DONE, {"answer": "42"}, 1)
    errors = [
        "<root>: Additional properties are not allowed ('extra' was unexpected)",
        "answer: 42 is not of type 'string'",
    ]
    [retry] = [e for e in await task_events(board, t.id) if e.kind == "task.retry"]
    assert retry.payload["error"] == {"kind": "contract_violation", "errors": errors}
    assert seen_errors == [None, errors]  # the second attempt was told what was wrong
    assert (worker.completed, worker.failed) == (1, 1)


# --- failing reviewers -----------------------------------------------------------------------


def mentions(text: str) -> Any:
    return lambda event: text in json.dumps(event.payload)


async def test_a_failing_reviewer_is_recorded_and_frees_the_review_at_once(
    board: Board,
) -> None:
    def reviewer(ctx: TaskContext) -> dict[str, Any]:
        raise ValueError("reviewer crashed on the diff")

    run = await board.create_run(
        plan(
            task("t", "worker", reviewer_role="reviewer", lease_s=1.0),
            roles=("worker", "reviewer"),
        )
    )
    agents = [
        FunctionAgent(lambda ctx: {"patch": "+1 line"}, roles=["worker"]),
        FunctionAgent(reviewer, roles=["reviewer"]),
    ]
    crashed = mentions("reviewer crashed on the diff")
    await work(
        board,
        agents,
        run.id,
        until=lambda e: crashed(e) or e.kind == "task.review_lease_expired",
    )

    t = await the_task(board, run.id)
    events = await task_events(board, t.id)
    assert any(crashed(e) for e in events), "the reviewer's error is on the board"
    assert "task.review_lease_expired" not in [e.kind for e in events]
    assert (t.state, t.lease_owner) == (TaskState.IN_REVIEW, None)


async def test_a_reviewer_answer_that_is_not_a_verdict_does_not_stop_the_worker(
    board: Board,
) -> None:
    answers = iter([{"approve": "maybe"}, {"approve": True}])
    run = await board.create_run(
        plan(task("t", "worker", reviewer_role="reviewer"), roles=("worker", "reviewer"))
    )
    agents = [
        FunctionAgent(lambda ctx: {"patch": "+1 line"}, roles=["worker"]),
        FunctionAgent(lambda ctx: next(answers), roles=["reviewer"], name="reviewer"),
    ]
    await work(board, agents, run.id, timeout=10)

    assert (await board.get_run(run.id)).state is RunState.FINISHED
    assert (await the_task(board, run.id)).state is TaskState.DONE
