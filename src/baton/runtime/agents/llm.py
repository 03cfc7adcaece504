"""LLM agents, built on pydantic-ai: model-agnostic, tool calling, structured output.

The task's output contract becomes the model's structured-output schema; pydantic-ai
feeds validation errors back to the model for ``output_retries`` rounds, and the board
checks the contract again on submit. Token usage and cost are recorded on the task's
events (``task.usage``), which is what budgets are enforced on.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic_ai import Agent as PydanticAgent
from pydantic_ai import StructuredDict
from pydantic_ai.exceptions import (
    AgentRunError,
    ModelAPIError,
    ModelRetry,
    UnexpectedModelBehavior,
    UserError,
)
from pydantic_ai.models import Model, infer_model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import RunUsage

from baton.model import SubPlan
from baton.model.contracts import violations
from baton.model.errors import InvalidArgument, RetryLater
from baton.runtime.agents.context import TaskContext, Verdict

MODEL_HELP = (
    "set BATON_MODEL or pass model=: 'openai:gpt-4.1-mini', 'anthropic:claude-sonnet-4-5', "
    "or 'openai:NAME@http://host:port/v1' for an OpenAI-compatible server (vLLM, Ollama, "
    "llama.cpp)"
)

#: US dollars per million (input, output) tokens, by model name; extend per deployment.
Prices = Mapping[str, tuple[float, float]]


def resolve_model(spec: str | Model | None) -> Model:
    """A pydantic-ai model from a string (or ``BATON_MODEL``), or a clear error."""
    if isinstance(spec, Model):
        return spec
    text = spec or os.environ.get("BATON_MODEL", "")
    if not text:
        raise InvalidArgument(f"no model configured: {MODEL_HELP}")
    base_url = os.environ.get("BATON_BASE_URL")
    if "@" in text:
        text, base_url = text.split("@", 1)
    if base_url:
        provider, _, name = text.partition(":")
        if provider != "openai" or not name:
            raise InvalidArgument(
                f"a base URL needs an 'openai:NAME' model (OpenAI-compatible), got {text!r}"
            )
        key = os.environ.get("OPENAI_API_KEY", "not-needed")
        return OpenAIChatModel(name, provider=OpenAIProvider(base_url=base_url, api_key=key))
    try:
        return infer_model(text)
    except (UserError, ValueError) as exc:
        raise InvalidArgument(f"cannot use model {text!r}: {exc}; {MODEL_HELP}") from None


def _output_type(ctx: TaskContext) -> tuple[Any, dict[str, Any] | None, bool]:
    """The structured-output type for this attempt, the schema its output must meet, and
    whether that schema wraps a non-object contract in ``{"result": ...}``."""
    if ctx.is_review:
        return Verdict, None, False
    contract = ctx.task.output_contract
    if not contract and ctx.task.expand:
        contract = SubPlan.model_json_schema()
    if not contract:
        return str, None, False
    schema = copy.deepcopy(contract)  # StructuredDict annotates the dict it is given
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    return StructuredDict(copy.deepcopy(schema), name="task_output"), schema, wrapped


class LLMAgent:
    """An agent whose work is done by a language model.

    ``model`` is a pydantic-ai model or a model string (default: ``BATON_MODEL``).
    ``tools`` are plain functions the model may call (as are the context's tools);
    ``context_tokens`` is the budget each attempt's context is assembled to (see
    :meth:`TaskContext.assemble_context`).
    """

    def __init__(
        self,
        *,
        roles: Sequence[str],
        model: str | Model | None = None,
        name: str | None = None,
        instructions: str = "",
        tools: Sequence[Callable[..., Any]] = (),
        output_retries: int = 2,
        request_timeout_s: float = 120.0,
        prices: Prices | None = None,
        context_tokens: int = 16_000,
    ) -> None:
        if isinstance(roles, str):
            roles = [roles]
        if not roles:
            raise InvalidArgument("an LLMAgent needs at least one role")
        self.roles: Sequence[str] = list(roles)
        self.name: str = name or f"llm-{'-'.join(self.roles)}"
        self._model_spec = model
        self.instructions = instructions or (
            f"You are the {', '.join(self.roles)} agent on a team coordinated through a "
            "shared task board. Answer only through the required output schema."
        )
        self.tools = list(tools)
        self.output_retries = output_retries
        self.request_timeout_s = request_timeout_s
        self.prices = dict(prices or {})
        #: The token budget of each attempt's context (task, dependency outputs,
        #: messages, artifacts in scope), assembled most relevant first.
        self.context_tokens = context_tokens

    def model(self) -> Model:
        return resolve_model(self._model_spec)

    async def run(self, ctx: TaskContext) -> Any:
        model = self.model()
        output_type, schema, wrapped = _output_type(ctx)
        agent: PydanticAgent[None, Any] = PydanticAgent(
            model,
            output_type=output_type,
            instructions=self.instructions,
            tools=[*self.tools, *ctx.tools],
            retries={"output": self.output_retries, "tools": self.output_retries},
            model_settings={"timeout": self.request_timeout_s},
        )
        if schema is not None:

            @agent.output_validator
            def meets_contract(output: Any) -> Any:
                # StructuredDict only checks the JSON's shape loosely; the contract is
                # checked here so that a violation goes back to the model, not to the board.
                errors = violations(dict(output), schema)
                if errors:
                    raise ModelRetry("the output breaks the required schema: " + "; ".join(errors))
                return output

        usage = RunUsage()  # updated in place, so a failed run's spend is still known
        try:
            context = await ctx.assemble_context(self.context_tokens)
            result = await agent.run(ctx.prompt(context), usage=usage)
        except UnexpectedModelBehavior as exc:
            raise RetryLater(f"model {model.model_name!r} gave no valid output: {exc}") from exc
        except ModelAPIError as exc:
            raise RetryLater(f"model endpoint failed for {model.model_name!r}: {exc}") from exc
        except AgentRunError as exc:
            raise RetryLater(f"model run failed for {model.model_name!r}: {exc}") from exc
        finally:
            if usage.input_tokens or usage.output_tokens:
                await ctx.record_usage(
                    model=model.model_name,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cost_usd=self.cost(model.model_name, usage.input_tokens, usage.output_tokens),
                )
        output = result.output
        if isinstance(output, dict):
            output = dict(output)
            return output["result"] if wrapped else output
        return output

    def cost(self, model_name: str, input_tokens: int, output_tokens: int) -> float:
        price_in, price_out = self.prices.get(model_name, (0.0, 0.0))
        return (input_tokens * price_in + output_tokens * price_out) / 1_000_000
