"""A deterministic, offline stand-in for a language model — and it says so.

There is no network and no API key in tests or in the offline demo, so agents run
through the real pydantic-ai machinery with this model in place of a provider. It reads
the task card from the prompt and answers with a ``responder`` (per-role scripts the
caller supplies) or, failing that, the smallest output that fits the schema. Its name,
``baton-offline-deterministic``, is recorded on every usage event, so nobody mistakes
its answers for a real model's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

OFFLINE_MODEL_NAME = "baton-offline-deterministic"

#: ``responder(card, schema)`` returns the output arguments, or ``None`` to fall back
#: to a schema-filling default.
Responder = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]

_CARD = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def task_card(messages: list[ModelMessage]) -> dict[str, Any]:
    """The JSON task card from the first user prompt (see ``TaskContext.prompt``)."""
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    found = _CARD.search(part.content)
                    if found:
                        card: dict[str, Any] = json.loads(found.group(1))
                        return card
    return {}


def offline_model(responder: Responder | None = None, *, latency_s: float = 0.0) -> FunctionModel:
    """``latency_s`` simulates a model's thinking time (for demos that should be watched)."""

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if latency_s:
            await asyncio.sleep(latency_s)
        card = task_card(messages)
        if not info.output_tools:  # plain-text output: the responder's answer, as JSON
            scripted = responder(card, {}) if responder else None
            text = json.dumps(scripted) if scripted is not None else card.get("title", "")
            return ModelResponse(parts=[TextPart(f"[{OFFLINE_MODEL_NAME}] {text}")])
        tool = info.output_tools[0]
        schema = tool.parameters_json_schema
        args = responder(card, schema) if responder else None
        if args is None:
            args = fill_schema(schema, schema, hint=str(card.get("title") or card.get("task", "")))
        return ModelResponse(parts=[ToolCallPart(tool.name, args)])

    return FunctionModel(respond, model_name=OFFLINE_MODEL_NAME)


def fill_schema(schema: dict[str, Any], root: dict[str, Any], *, hint: str = "") -> Any:
    """The smallest deterministic value that satisfies ``schema`` (common subset)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return fill_schema(root.get("$defs", {}).get(name, {}), root, hint=hint)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return fill_schema(schema[key][0], root, hint=hint)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {
            name: fill_schema(props.get(name, {}), root, hint=name)
            for name in schema.get("required", list(props))
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [fill_schema(schema.get("items", {}), root, hint=hint) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = f"{hint or 'value'} ({OFFLINE_MODEL_NAME})"
    if schema.get("pattern") == "^/":
        text = "/" + text.replace(" ", "-")
    return text[: schema.get("maxLength", len(text))]
