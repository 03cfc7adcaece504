"""LLMAgent through its real HTTP client against a scripted OpenAI-compatible server.

Every test here runs pydantic-ai's ``OpenAIChatModel`` (resolved from a model string,
``openai:NAME@http://127.0.0.1:PORT/v1``) against :class:`tests.llm_server.ScriptedLLM`,
on a real board over a temp SQLite file, driven by a real :class:`~baton.runtime.worker.Worker`.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from baton import Board, InvalidArgument, RunState, TaskState
from baton.agents import FunctionAgent
from baton.runtime.agents.llm import LLMAgent, resolve_model
from baton.runtime.agents.offline import OFFLINE_MODEL_NAME, offline_model
from baton.runtime.worker import Worker
from baton.views.tokens import count_tokens
from tests.helpers import plan, task
from tests.llm_server import (
    ScriptedLLM,
    hang,
    http_error,
    malformed,
    output,
    text,
    tool_call,
    unused_port,
)
from tests.worker_harness import kind_is, retried_once, task_events, the_task, work

pytestmark = pytest.mark.anyio

ANSWER = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "sources": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["answer"],
    "additionalProperties": False,
}


def one_task(role: str = "writer", **extra: Any) -> dict[str, Any]:
    extra.setdefault("output_contract", ANSWER)
    return plan(task("t", role, **extra), roles=(role, "reviewer"))


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


# --- 1. structured output, usage, cost ---------------------------------------------------


async def test_structured_output_becomes_the_task_output_and_usage_is_recorded(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"answer": "42", "sources": ["the wiki"]}, usage=(1200, 300)))
    run = await board.create_run(one_task(title="Find the answer"))
    agent = LLMAgent(
        roles=["writer"],
        model=llm.model_spec("gpt-scripted"),
        prices={"gpt-scripted": (2.0, 10.0), "other": (100.0, 100.0)},
    )

    await work(board, agent, run.id)

    t = await the_task(board, run.id)
    assert t.state is TaskState.DONE
    assert t.output == {"answer": "42", "sources": ["the wiki"]}
    [usage] = await task_events(board, t.id, "task.usage")
    assert usage.payload == {
        "model": "gpt-scripted",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": pytest.approx((1200 * 2.0 + 300 * 10.0) / 1_000_000),
        "role": "writer",
    }
    assert t.tokens_used == 1500
    assert t.cost_used == pytest.approx(0.0054)
    assert (await board.get_run(run.id)).tokens_used == 1500
    # The model was asked for exactly the contract, through one output tool.
    [request] = llm.requests
    assert request["model"] == "gpt-scripted"
    [offered] = request["tools"]
    assert offered["function"]["parameters"]["properties"] == ANSWER["properties"]
    assert offered["function"]["parameters"]["required"] == ["answer"]


async def test_a_model_without_a_price_costs_nothing(board: Board, llm: ScriptedLLM) -> None:
    llm.script(output({"answer": "x"}, usage=(7, 3)))
    run = await board.create_run(one_task())
    agent = LLMAgent(roles=["writer"], model=llm.model_spec(), prices={"other": (5.0, 5.0)})
    await work(board, agent, run.id)
    [usage] = await task_events(board, (await the_task(board, run.id)).id, "task.usage")
    assert usage.payload["cost_usd"] == 0.0
    assert (usage.payload["input_tokens"], usage.payload["output_tokens"]) == (7, 3)


async def test_the_prompt_carries_the_task_card_and_dependency_outputs(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"answer": "written"}))
    run = await board.create_run(
        plan(
            task("research", "researcher", output_contract={"type": "object"}),
            task(
                "write",
                "writer",
                deps=("research",),
                title="Write the launch note",
                description="One paragraph for the changelog.",
                input={"audience": "operators"},
                acceptance_criteria=["mentions the SQLite store"],
                output_contract=ANSWER,
            ),
            roles=("researcher", "writer"),
        )
    )
    researcher = FunctionAgent(
        lambda ctx: {"finding": "baton keeps its board in SQLite-7731"}, roles=["researcher"]
    )
    writer = LLMAgent(roles=["writer"], model=llm.model_spec(), instructions="Write tersely.")

    await work(board, [researcher, writer], run.id)

    assert (await the_task(board, run.id, "write")).output == {"answer": "written"}
    [request] = llm.requests
    system, user = request["messages"]
    assert system == {"role": "system", "content": "Write tersely."}
    assert user["role"] == "user"
    card = json.loads(user["content"].split("```json\n", 1)[1].split("\n```", 1)[0])
    assert card["title"] == "Write the launch note"
    assert card["description"] == "One paragraph for the changelog."
    assert card["input"] == {"audience": "operators"}
    assert card["acceptance_criteria"] == ["mentions the SQLite store"]
    assert card["mode"] == "work" and card["role"] == "writer"
    assert card["dependencies"] == {"research": {"state": "done", "error": None}}
    # the dependency's output is a piece of its own in the budgeted context
    section = user["content"].split("## Output of dependency: research", 1)[1]
    assert '"finding": "baton keeps its board in SQLite-7731"' in section
    [record] = await task_events(board, (await the_task(board, run.id, "write")).id, "task.context")
    assert record.payload["budget"] == writer.context_tokens
    assert record.payload["total_tokens"] <= writer.context_tokens
    assert [(p["kind"], p["name"], p["inclusion"]) for p in record.payload["pieces"]] == [
        ("task", "write", "whole"),
        ("dependency_output", "research", "whole"),
    ]


async def test_context_is_cut_to_the_budget_and_what_was_left_out_is_named(
    board: Board, llm: ScriptedLLM
) -> None:
    """A big shared document does not fit a small budget: the model is told it exists
    (summarised or named), the task itself always goes in, and the record says so."""
    llm.script(output({"answer": "ok"}))
    run = await board.create_run(one_task(output_contract=ANSWER))
    await board.write_artifact(run.id, "spec.md", "a long paragraph of the spec. " * 2000)
    await board.write_artifact(run.id, "glossary.md", "term: meaning\n" * 10)
    writer = LLMAgent(roles=["writer"], model=llm.model_spec(), context_tokens=600)
    await work(board, writer, run.id)
    [request] = llm.requests
    prompt = request["messages"][1]["content"]
    t = await the_task(board, run.id)
    [record] = await task_events(board, t.id, "task.context")
    assert record.payload["total_tokens"] <= 600
    fates = {p["name"]: p["inclusion"] for p in record.payload["pieces"]}
    assert fates[f"{run.id}:glossary.md@1"] == "whole"
    assert fates[f"{run.id}:spec.md@1"] in ("summarised", "left_out")
    assert "spec.md" in prompt and "term: meaning" in prompt
    assert count_tokens(prompt) < 700


async def test_without_a_contract_the_text_answer_is_the_output(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(text("a plain answer", usage=(4, 2)))
    run = await board.create_run(one_task(output_contract=None))
    await work(board, LLMAgent(roles=["writer"], model=llm.model_spec()), run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output) == (TaskState.DONE, "a plain answer")
    assert "tools" not in llm.requests[0] or not llm.requests[0]["tools"]


async def test_a_non_object_contract_is_wrapped_for_the_model_and_unwrapped_after(
    board: Board, llm: ScriptedLLM
) -> None:
    contract = {"type": "array", "items": {"type": "string"}, "minItems": 2}
    llm.script(output({"result": ["alpha", "beta"]}))
    run = await board.create_run(one_task(output_contract=contract))
    await work(board, LLMAgent(roles=["writer"], model=llm.model_spec()), run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output) == (TaskState.DONE, ["alpha", "beta"])
    [offered] = llm.requests[0]["tools"]
    assert offered["function"]["parameters"]["properties"] == {"result": contract}


async def test_the_agent_leaves_the_tasks_contract_as_it_was(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"answer": "x"}))
    run = await board.create_run(one_task())
    agent = LLMAgent(roles=["writer"], model=llm.model_spec())
    lease = await board.claim("w1", ["writer"], run_id=run.id)
    assert lease is not None
    ctx = await Worker(board, agent, name="w1").context(lease)
    before = copy.deepcopy(ctx.task.output_contract)
    assert await agent.run(ctx) == {"answer": "x"}
    assert ctx.task.output_contract == before


# --- 2. tool calling -------------------------------------------------------------------


def lookup(topic: str) -> str:
    """Look a topic up in the team wiki."""
    return f"wiki: {topic} coordinates agent teams"


def word_count(words: str) -> int:
    """Count the words in a text."""
    return len(words.split())


async def test_the_model_calls_tools_and_sees_their_results(board: Board, llm: ScriptedLLM) -> None:
    llm.function_tools = {"lookup", "word_count"}
    llm.script(
        tool_call("lookup", {"topic": "baton"}),
        tool_call("word_count", {"words": "one two three"}),
        output({"answer": "baton coordinates agent teams", "sources": ["wiki"]}),
    )
    run = await board.create_run(one_task())
    agent = LLMAgent(roles=["writer"], model=llm.model_spec(), tools=[lookup])

    # lookup is the agent's own tool; word_count comes from the worker (ctx.tools)
    await work(board, agent, run.id, tools=[word_count])

    t = await the_task(board, run.id)
    assert t.state is TaskState.DONE
    assert t.output == {"answer": "baton coordinates agent teams", "sources": ["wiki"]}
    first, second, third = llm.requests
    assert set(llm.tool_names(0)) == {"lookup", "word_count", "final_result"}
    lookup_schema = next(x for x in first["tools"] if x["function"]["name"] == "lookup")
    assert lookup_schema["function"]["description"] == "Look a topic up in the team wiki."
    assert "topic" in lookup_schema["function"]["parameters"]["properties"]
    [looked_up] = tool_messages(second)
    assert looked_up["tool_call_id"] == "call_1"
    assert looked_up["content"] == "wiki: baton coordinates agent teams"
    counted = tool_messages(third)[-1]
    assert counted["tool_call_id"] == "call_2"
    assert counted["content"] == "3"
    # all three requests' tokens land in one usage event
    [usage] = await task_events(board, t.id, "task.usage")
    assert (usage.payload["input_tokens"], usage.payload["output_tokens"]) == (30, 15)


# --- 3. invalid structured output ----------------------------------------------------------


async def test_unparseable_output_is_fed_back_and_the_next_answer_completes(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output('{"answer": "unterminated'), output({"answer": "fixed"}))
    run = await board.create_run(one_task())
    await work(board, LLMAgent(roles=["writer"], model=llm.model_spec()), run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.output, t.failures) == (TaskState.DONE, {"answer": "fixed"}, 0)
    assert len(llm.requests) == 2
    [retry] = tool_messages(llm.requests[1])
    assert retry["tool_call_id"] == "call_1"
    assert "json_invalid" in retry["content"] or "Invalid JSON" in retry["content"]


async def test_output_breaking_the_schema_is_fed_back_to_the_model(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"answer": 42}), output({"answer": "42"}))
    run = await board.create_run(one_task())
    await work(
        board,
        LLMAgent(roles=["writer"], model=llm.model_spec()),
        run.id,
        until=kind_is("task.complete", "task.retry"),
    )

    t = await the_task(board, run.id)
    assert (t.state, t.output, t.failures) == (TaskState.DONE, {"answer": "42"}, 0)
    assert len(llm.requests) == 2
    [retry] = tool_messages(llm.requests[1])
    assert "answer" in retry["content"]


async def test_always_unparseable_output_fails_each_attempt_and_never_completes(
    board: Board,
) -> None:
    with ScriptedLLM(default=output('{"answer": ')) as llm:
        run = await board.create_run(one_task(max_attempts=2, backoff_base_s=0))
        agent = LLMAgent(roles=["writer"], model=llm.model_spec(), output_retries=1)
        await work(board, agent, run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.failures, t.output) == (TaskState.FAILED, 2, None)
    assert len(llm.requests) == 4  # two attempts, each 1 + output_retries requests
    kinds = [e.kind for e in await task_events(board, t.id)]
    assert "task.complete" not in kinds
    assert kinds.count("task.retry") == 1 and kinds.count("task.fail") == 1
    assert t.last_error is not None
    assert t.last_error["type"] == "RetryLater"
    assert t.last_error["agent"] == "llm-writer"
    assert "scripted" in t.last_error["message"]
    assert "maximum output retries (1)" in t.last_error["message"]
    assert (await board.get_run(run.id)).state is RunState.FAILED


async def test_always_schema_breaking_output_fails_each_attempt_and_never_completes(
    board: Board,
) -> None:
    with ScriptedLLM(default=output({"answer": 5})) as llm:
        run = await board.create_run(one_task(max_attempts=2, backoff_base_s=0))
        await work(board, LLMAgent(roles=["writer"], model=llm.model_spec()), run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.failures, t.output) == (TaskState.FAILED, 2, None)
    assert t.last_error is not None
    assert "task.complete" not in [e.kind for e in await task_events(board, t.id)]


async def test_tokens_spent_on_a_failed_attempt_are_recorded(board: Board) -> None:
    with ScriptedLLM(default=output('{"answer": ', usage=(10, 5))) as llm:
        run = await board.create_run(one_task())
        agent = LLMAgent(roles=["writer"], model=llm.model_spec(), output_retries=1)
        await work(board, agent, run.id, until=kind_is("task.retry"))

    t = await the_task(board, run.id)
    assert t.state is TaskState.READY
    usage = await task_events(board, t.id, "task.usage")
    assert sum(e.payload["input_tokens"] for e in usage) == 20
    assert sum(e.payload["output_tokens"] for e in usage) == 10


# --- 4. the endpoint misbehaves -----------------------------------------------------------

ENDPOINT_FAILURES = {
    "http-500": ([http_error(500, "upstream exploded")] * 3, ["500", "upstream exploded"]),
    "malformed-json": ([malformed()] * 3, ["decode", "JSON"]),
    "hang": ([hang(30.0)] * 3, ["timed out"]),
    "down": (None, ["Connection error"]),
}


@pytest.mark.parametrize("failure", list(ENDPOINT_FAILURES))
async def test_an_endpoint_failure_is_a_failed_retryable_attempt(
    board: Board, llm: ScriptedLLM, failure: str
) -> None:
    replies, expected = ENDPOINT_FAILURES[failure]
    if replies is None:
        model = f"openai:scripted@http://127.0.0.1:{unused_port()}/v1"
    else:
        llm.script(*replies)
        model = llm.model_spec()
    run = await board.create_run(one_task())
    agent = LLMAgent(roles=["writer"], model=model, request_timeout_s=0.3)

    started = time.monotonic()
    await work(board, agent, run.id, until=kind_is("task.retry", "task.fail"), timeout=15)
    elapsed = time.monotonic() - started

    t = await retried_once(board, run.id)
    error = t.last_error
    assert error is not None
    assert error["kind"] == "retry_later"
    assert error["type"] == "RetryLater"
    assert "scripted" in error["message"]
    for words in expected:
        assert words in error["message"]
    events = await task_events(board, t.id)
    assert "task.complete" not in [e.kind for e in events]
    [retry] = [e for e in events if e.kind == "task.retry"]
    assert retry.payload["error"] == t.last_error
    if failure == "hang":  # bounded by the client's timeout, not by the server's 30 s
        assert elapsed < 10


async def test_after_a_failed_attempt_the_next_one_can_succeed(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(*[http_error(503, "overloaded")] * 3, output({"answer": "second time"}))
    run = await board.create_run(one_task(backoff_base_s=0))
    await work(board, LLMAgent(roles=["writer"], model=llm.model_spec()), run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.failures, t.attempts) == (TaskState.DONE, 1, 2)
    assert t.output == {"answer": "second time"}
    assert t.last_error is None


async def test_usage_past_the_tasks_budget_blocks_it_and_its_output_does_not_land(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"answer": "expensive"}, usage=(900, 300)))
    run = await board.create_run(one_task(budget={"tokens": 1000}))
    agent = LLMAgent(roles=["writer"], model=llm.model_spec())
    await work(board, agent, run.id, until=kind_is("task.block"))

    t = await the_task(board, run.id)
    assert t.state is TaskState.BLOCKED
    assert t.blocked_reason is not None and "budget" in t.blocked_reason
    assert t.output is None
    assert t.tokens_used == 1200
    [escalation] = await board.escalations(run.id)
    assert escalation.kind == "escalation.budget"


# --- 5. an LLM reviewer ------------------------------------------------------------------


async def test_an_llm_reviewer_rejects_with_feedback_then_approves(board: Board) -> None:
    with ScriptedLLM() as writer_llm, ScriptedLLM() as reviewer_llm:
        writer_llm.script(
            output({"answer": "draft one"}, usage=(100, 10)),
            output({"answer": "draft two", "sources": ["RFC 9110"]}, usage=(150, 20)),
        )
        reviewer_llm.script(
            output({"approve": False, "feedback": ["cite a source for the claim"]}),
            output({"approve": True, "comment": "sourced now"}),
        )
        run = await board.create_run(one_task(reviewer_role="reviewer"))
        writer = LLMAgent(roles=["writer"], model=writer_llm.model_spec("writer-model"))
        reviewer = LLMAgent(roles=["reviewer"], model=reviewer_llm.model_spec("review-model"))

        await work(board, [writer, reviewer], run.id)

    t = await the_task(board, run.id)
    assert t.state is TaskState.DONE
    assert t.output == {"answer": "draft two", "sources": ["RFC 9110"]}
    assert t.review_rounds == 1
    assert [f["items"] for f in t.feedback] == [["cite a source for the claim"]]
    events = await task_events(board, t.id)
    [reject] = [e for e in events if e.kind == "task.reject"]
    assert (reject.payload["from"], reject.payload["to"]) == ("in_review", "ready")
    assert reject.payload["feedback"] == ["cite a source for the claim"]
    [approve] = [e for e in events if e.kind == "task.approve"]
    assert approve.payload["comment"] == "sourced now"
    # The reviewer was asked for a Verdict and shown the submitted output.
    first_review = reviewer_llm.prompt_text(0)
    assert '"mode": "review"' in first_review
    assert '"submitted_output": {\n    "answer": "draft one"' in first_review
    assert set(reviewer_llm.requests[0]["tools"][0]["function"]["parameters"]["properties"]) >= {
        "approve",
        "feedback",
    }
    # The writer's second attempt saw the feedback.
    assert "cite a source for the claim" not in writer_llm.prompt_text(0)
    assert "cite a source for the claim" in writer_llm.prompt_text(1)
    usage = [e.payload for e in events if e.kind == "task.usage"]
    assert [(u["model"], u["role"]) for u in usage] == [
        ("writer-model", "writer"),
        ("review-model", "reviewer"),
        ("writer-model", "writer"),
        ("review-model", "reviewer"),
    ]


async def test_a_verdict_that_fails_validation_is_fed_back_to_the_reviewer(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"approve": "perhaps"}), output({"approve": True}))
    run = await board.create_run(one_task(reviewer_role="reviewer"))
    writer = FunctionAgent(lambda ctx: {"answer": "done"}, roles=["writer"])
    reviewer = LLMAgent(roles=["reviewer"], model=llm.model_spec())
    await work(board, [writer, reviewer], run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.review_rounds) == (TaskState.DONE, 0)
    [retry] = tool_messages(llm.requests[1])
    assert "approve" in retry["content"]


# --- 6. resolving the model ------------------------------------------------------------------


def test_no_model_and_no_baton_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_MODEL", raising=False)
    with pytest.raises(InvalidArgument, match="no model configured: set BATON_MODEL"):
        resolve_model(None)


@pytest.mark.parametrize("spec", ["nosuchprovider:some-model", "just-a-name"])
def test_an_unknown_model_is_a_clear_error(spec: str) -> None:
    with pytest.raises(InvalidArgument, match=f"cannot use model '{spec}'.*BATON_MODEL"):
        resolve_model(spec)


def test_a_base_url_needs_an_openai_compatible_model() -> None:
    with pytest.raises(InvalidArgument, match="needs an 'openai:NAME' model"):
        resolve_model("anthropic:claude-sonnet-4-5@http://127.0.0.1:9/v1")
    with pytest.raises(InvalidArgument, match="needs an 'openai:NAME' model"):
        resolve_model("openai:@http://127.0.0.1:9/v1")


def test_a_model_string_with_a_base_url_is_an_openai_chat_model() -> None:
    model = resolve_model("openai:local-llama@http://127.0.0.1:9/v1")
    assert isinstance(model, OpenAIChatModel)
    assert model.model_name == "local-llama"
    assert str(model.client.base_url).startswith("http://127.0.0.1:9/v1")


def test_a_model_instance_is_used_as_given() -> None:
    model = OpenAIChatModel(
        "m", provider=OpenAIProvider(base_url="http://127.0.0.1:9/v1", api_key="k")
    )
    assert resolve_model(model) is model


async def test_baton_model_from_the_environment_is_used(
    board: Board, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_MODEL", llm.model_spec("from-env"))
    llm.script(output({"answer": "env"}))
    run = await board.create_run(one_task())
    await work(board, LLMAgent(roles=["writer"]), run.id)
    assert (await the_task(board, run.id)).output == {"answer": "env"}
    assert llm.requests[0]["model"] == "from-env"


async def test_baton_base_url_from_the_environment_is_used(
    board: Board, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_MODEL", "openai:env-name")
    monkeypatch.setenv("BATON_BASE_URL", llm.base_url)
    llm.script(output({"answer": "via base url"}))
    run = await board.create_run(one_task())
    await work(board, LLMAgent(roles=["writer"]), run.id)
    assert (await the_task(board, run.id)).output == {"answer": "via base url"}
    assert llm.requests[0]["model"] == "env-name"


async def test_an_agent_without_a_model_fails_its_attempt_saying_how_to_configure_one(
    board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_MODEL", raising=False)
    run = await board.create_run(one_task())
    await work(board, LLMAgent(roles=["writer"]), run.id, until=kind_is("task.retry"))
    t = await the_task(board, run.id)
    assert t.state is TaskState.READY
    assert t.last_error is not None
    assert t.last_error["type"] == "InvalidArgument"
    assert "BATON_MODEL" in t.last_error["message"]


# --- 7. the offline model ----------------------------------------------------------------------


async def offline_run(board: Board, agents: list[LLMAgent], plan_: dict[str, Any]) -> str:
    run = await board.create_run(plan_)
    await work(board, agents, run.id)
    return run.id


async def test_the_offline_model_answers_deterministically_within_the_contract(
    board: Board,
) -> None:
    contract = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "maxLength": 40},
            "points": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "score": {"type": "integer", "minimum": 3},
            "level": {"enum": ["low", "high"]},
            "ok": {"type": "boolean"},
        },
        "required": ["summary", "points", "score", "level", "ok"],
    }
    the_plan = one_task(output_contract=contract, title="Summarise")
    # the same plan twice, each run with a fresh agent and model
    runs = [
        await offline_run(board, [LLMAgent(roles=["writer"], model=offline_model())], the_plan)
        for _ in range(2)
    ]
    t, again = [await the_task(board, run_id) for run_id in runs]

    assert t.state is TaskState.DONE and again.state is TaskState.DONE
    assert t.output == again.output
    assert t.output["score"] == 3 and t.output["level"] == "low" and t.output["ok"] is True
    assert len(t.output["points"]) == 2
    assert len(t.output["summary"]) <= 40
    [usage] = await task_events(board, t.id, "task.usage")
    [again_usage] = await task_events(board, again.id, "task.usage")
    assert usage.payload["model"] == OFFLINE_MODEL_NAME
    assert usage.payload["input_tokens"] > 0 and usage.payload["output_tokens"] > 0
    assert usage.payload == again_usage.payload


async def test_an_offline_responder_scripts_answers_per_role(board: Board) -> None:
    seen: list[tuple[str, str]] = []

    def responder(card: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
        seen.append((card["role"], card["mode"]))
        if card["role"] == "writer":
            return {"answer": f"draft {card['attempt']}"}
        if card["role"] == "reviewer":
            if not card["review_feedback"]:
                return {"approve": False, "feedback": ["be more specific"]}
            return {"approve": True, "comment": "ok"}
        return None

    model = offline_model(responder)
    agents = [LLMAgent(roles=["writer"], model=model), LLMAgent(roles=["reviewer"], model=model)]
    run_id = await offline_run(board, agents, one_task(reviewer_role="reviewer"))

    t = await the_task(board, run_id)
    assert t.state is TaskState.DONE
    assert t.output == {"answer": "draft 2"}
    assert [f["items"] for f in t.feedback] == [["be more specific"]]
    assert seen == [
        ("writer", "work"),
        ("reviewer", "review"),
        ("writer", "work"),
        ("reviewer", "review"),
    ]
    usage = await task_events(board, t.id, "task.usage")
    assert {u.payload["model"] for u in usage} == {OFFLINE_MODEL_NAME}
    assert [u.payload["role"] for u in usage] == ["writer", "reviewer", "writer", "reviewer"]


async def test_a_responder_answer_that_breaks_the_contract_is_refused(board: Board) -> None:
    model = offline_model(lambda card, schema: {"answer": ["not", "a", "string"]})
    run_id = await offline_run(
        board,
        [LLMAgent(roles=["writer"], model=model)],
        one_task(max_attempts=1),
    )
    t = await the_task(board, run_id)
    assert (t.state, t.output) == (TaskState.FAILED, None)
    assert t.last_error is not None
