"""Adapters: a real pydantic-ai Agent and a real LangGraph compiled graph as Baton agents,
run by a real Worker on a real board."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import RequestUsage

from baton import Board, TaskState
from baton.agents import FunctionAgent, TaskContext
from baton.runtime.agents.adapters import LangGraphAgent, PydanticAIAgent
from tests.helpers import plan, task
from tests.llm_server import ScriptedLLM, output
from tests.worker_harness import kind_is, retried_once, task_events, the_task, work

pytestmark = pytest.mark.anyio


class Summary(BaseModel):
    headline: str
    bullet_count: int


def summary_run(**extra: Any) -> dict[str, Any]:
    return plan(task("t", "summariser", output_contract=Summary, **extra), roles=("summariser",))


# --- pydantic-ai ----------------------------------------------------------------------------


async def test_a_pydantic_ai_agent_over_http_completes_a_task_and_its_usage_is_recorded(
    board: Board, llm: ScriptedLLM
) -> None:
    llm.script(output({"headline": "Baton ships", "bullet_count": 3}, usage=(40, 8)))
    model = OpenAIChatModel(
        "pa-scripted", provider=OpenAIProvider(base_url=llm.base_url, api_key="test-key")
    )
    inner = PydanticAgent(model, output_type=Summary, name="summariser", instructions="Be short.")
    run = await board.create_run(summary_run(title="Summarise the release"))

    await work(board, PydanticAIAgent(inner, roles=["summariser"]), run.id)

    t = await the_task(board, run.id)
    assert t.state is TaskState.DONE
    assert t.output == {"headline": "Baton ships", "bullet_count": 3}
    [usage] = await task_events(board, t.id, "task.usage")
    assert usage.actor == "w1"
    assert usage.payload == {
        "model": "pa-scripted",
        "input_tokens": 40,
        "output_tokens": 8,
        "cost_usd": 0.0,
        "role": "summariser",
    }
    [request] = llm.requests
    assert request["messages"][0] == {"role": "system", "content": "Be short."}
    assert '"title": "Summarise the release"' in request["messages"][1]["content"]


async def test_a_pydantic_ai_agent_on_a_function_model_with_a_custom_prompt(
    board: Board,
) -> None:
    prompts: list[str] = []

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompts.append(str(messages[0].parts[-1].content))  # type: ignore[union-attr]
        [tool] = info.output_tools
        return ModelResponse(
            parts=[ToolCallPart(tool.name, {"headline": "from a function", "bullet_count": 1})],
            usage=RequestUsage(input_tokens=11, output_tokens=4),
        )

    model = FunctionModel(respond, model_name="fn-model")
    inner = PydanticAgent(model, output_type=Summary)
    adapter = PydanticAIAgent(
        inner, roles="summariser", prompt=lambda ctx: f"Summarise: {ctx.input['doc']}"
    )
    assert adapter.roles == ["summariser"] and adapter.name == "pydantic-ai-agent"
    run = await board.create_run(summary_run(input={"doc": "the changelog"}))

    await work(board, adapter, run.id)

    t = await the_task(board, run.id)
    assert (t.state, t.output) == (
        TaskState.DONE,
        {"headline": "from a function", "bullet_count": 1},
    )
    assert prompts == ["Summarise: the changelog"]
    [usage] = await task_events(board, t.id, "task.usage")
    assert (usage.payload["model"], usage.payload["input_tokens"]) == ("fn-model", 11)
    assert usage.payload["output_tokens"] == 4


async def test_a_failing_pydantic_ai_agent_fails_the_attempt_with_its_error(
    board: Board,
) -> None:
    def chatter(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("I would rather chat")])

    inner = PydanticAgent(
        FunctionModel(chatter), output_type=Summary, name="chatty", retries={"output": 1}
    )
    run = await board.create_run(summary_run())
    await work(
        board, PydanticAIAgent(inner, roles=["summariser"]), run.id, until=kind_is("task.retry")
    )

    t = await retried_once(board, run.id)
    error = t.last_error
    assert error is not None
    assert error["agent"] == "chatty"
    assert error["type"] == "UnexpectedModelBehavior"
    assert "output retries" in error["message"]


# --- LangGraph ------------------------------------------------------------------------------


class DraftState(TypedDict, total=False):
    task: dict[str, Any]
    input: dict[str, Any]
    outline: list[str]
    output: dict[str, Any]


def outline_node(state: DraftState) -> dict[str, Any]:
    notes = state["task"]["dependencies"]["notes"]["output"]["points"]
    return {"outline": [f"{state['input']['tone']}: {p}" for p in notes]}


async def finish_node(state: DraftState) -> dict[str, Any]:
    return {
        "output": {
            "title": state["task"]["title"],
            "body": " / ".join(state["outline"]),
        }
    }


def draft_graph() -> Any:
    graph = StateGraph(DraftState)
    graph.add_node("outline", outline_node)
    graph.add_node("finish", finish_node)
    graph.add_edge(START, "outline")
    graph.add_edge("outline", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


DOC = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "body": {"type": "string"}},
    "required": ["title", "body"],
    "additionalProperties": False,
}


async def test_a_langgraph_graph_completes_a_task_from_its_final_state(board: Board) -> None:
    run = await board.create_run(
        plan(
            task("notes", "researcher"),
            task(
                "draft",
                "writer",
                deps=("notes",),
                title="Release post",
                input={"tone": "plain"},
                output_contract=DOC,
            ),
            roles=("researcher", "writer"),
        )
    )
    researcher = FunctionAgent(lambda ctx: {"points": ["faster", "safer"]}, roles=["researcher"])
    writer = LangGraphAgent(draft_graph(), roles=["writer"], name="drafting-graph")

    await work(board, [researcher, writer], run.id)

    t = await the_task(board, run.id, "draft")
    assert t.state is TaskState.DONE
    assert t.output == {"title": "Release post", "body": "plain: faster / plain: safer"}


class CountState(TypedDict):
    text: str
    words: int


def count_node(state: CountState) -> dict[str, Any]:
    return {"words": len(state["text"].split())}


def count_graph() -> Any:
    graph = StateGraph(CountState)
    graph.add_node("count", count_node)
    graph.add_edge(START, "count")
    graph.add_edge("count", END)
    return graph.compile()


async def test_a_langgraph_agent_maps_context_and_state_as_told(board: Board) -> None:
    contract = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    run = await board.create_run(
        plan(
            task("t", "counter", input={"text": "one two three four"}, output_contract=contract),
            roles=("counter",),
        )
    )

    def to_state(ctx: TaskContext) -> dict[str, Any]:
        return {"text": ctx.input["text"], "words": 0}

    agent = LangGraphAgent(
        count_graph(),
        roles="counter",
        to_state=to_state,
        from_state=lambda state: {"n": state["words"]},
    )
    await work(board, agent, run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output) == (TaskState.DONE, {"n": 4})


async def test_a_graph_whose_output_breaks_the_contract_fails_the_attempt(
    board: Board,
) -> None:
    run = await board.create_run(
        plan(
            task("t", "counter", input={"text": "a b"}, output_contract=DOC, max_attempts=1),
            roles=("counter",),
        )
    )
    agent = LangGraphAgent(
        count_graph(),
        roles=["counter"],
        to_state=lambda ctx: {"text": ctx.input["text"], "words": 0},
        from_state=lambda state: {"title": state["words"]},
    )
    await work(board, agent, run.id)
    t = await the_task(board, run.id)
    assert (t.state, t.output) == (TaskState.FAILED, None)
    assert t.last_error is not None
    assert t.last_error["kind"] == "contract_violation"
    assert "title: 2 is not of type 'string'" in t.last_error["errors"]
    assert "<root>: 'body' is a required property" in t.last_error["errors"]
