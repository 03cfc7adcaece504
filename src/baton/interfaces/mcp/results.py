"""What a tool call answers: a result as JSON, or a Baton error as an MCP tool error.

Errors go through the HTTP door's one error table (:func:`baton.interfaces.http.problems.problem`)
so that both doors say the same thing — the same code, message and fields, and a run
the caller may not see answered as one that does not exist. They come back as
``isError`` results, not protocol errors, because the agent is meant to read them and
act: a ``ContractViolation`` lists every way the output broke the task's contract.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from mcp_types import CallToolResult, TextContent

from baton.interfaces.http.problems import problem
from baton.model.errors import BatonError


def answer(value: Any) -> CallToolResult:
    """``value`` as the call's result: readable JSON text, and the same as structured
    content (an object; anything else is wrapped as ``{"result": …}``)."""
    plain = pydantic_core.to_jsonable_python(value)
    structured = plain if isinstance(plain, dict) else {"result": plain}
    text = json.dumps(plain, indent=2, ensure_ascii=False)
    return CallToolResult(content=[TextContent(text=text)], structured_content=structured)


def refused(error: BatonError) -> CallToolResult:
    """``error`` as a tool error: ``Code: message`` first (what the agent reads), then
    a ``ContractViolation``'s validation errors one per line; the problem body (code,
    detail, fields) as structured content for clients that read it."""
    _, body = problem(error)
    lines = [f"{body['code']}: {body['detail']}"]
    if body["code"] == "ContractViolation":
        lines.append("validation errors:")
        lines.extend(f"- {e}" for e in body["fields"].get("errors", []))
    return CallToolResult(
        content=[TextContent(text="\n".join(lines))], structured_content=body, is_error=True
    )
