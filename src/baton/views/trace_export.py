"""A run's trace rebuilt from its event log, as OTLP/JSON: so a run that ran with no
exporter configured can still be opened in Jaeger, Tempo or any OTLP tool after the fact
(``baton trace RUN --otlp-json FILE``).

The spans are the ones live tracing emits (docs/observability.md): the run; one span
per task; one per attempt (work or review) under its task; under an attempt, one per
model call (``task.usage``, with the GenAI semantic conventions' attributes) and one per
side effect (``effect.started`` → ``effect.recorded``, an ``execute_tool`` span). Ids
are derived from the run, task and attempt (:func:`trace_id_of`, :func:`span_id_of`),
the same ones live tracing uses, so the exported spans and live ones of one run are one
trace.

Pure: takes the run, its tasks and its events; opens nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from baton.model import Event, Run, Task
from baton.views.timeline import attempts

SERVICE = "baton"
_SPAN_KIND_INTERNAL = 1
_SPAN_KIND_CLIENT = 3
_STATUS_OK, _STATUS_ERROR = 1, 2
_RUN_ENDS = {"run.finished", "run.failed", "run.cancelled"}
_TERMINAL = {"task.complete", "task.fail", "task.cancel", "task.reject_final", "task.approve"}


def trace_id_of(run_id: str) -> str:
    """The run's trace id (32 hex digits): one run, one trace, in every process."""
    return hashlib.sha256(f"baton-trace:{run_id}".encode()).hexdigest()[:32]


def span_id_of(*parts: object) -> str:
    """A span id (16 hex digits) for the run, a task, an attempt (task, kind, number)…"""
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(f"baton-span:{text}".encode()).hexdigest()[:16]


def _ns(seconds: float) -> str:
    return str(round(seconds * 1e9))


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _span(
    trace: str,
    span: str,
    parent: str | None,
    name: str,
    start: float,
    end: float,
    attrs: dict[str, Any],
    *,
    error: str | None = None,
    kind: int = _SPAN_KIND_INTERNAL,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": span,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": _ns(start),
        "endTimeUnixNano": _ns(max(end, start)),
        "attributes": [_attr(k, v) for k, v in attrs.items() if v is not None],
        "status": {"code": _STATUS_ERROR, "message": error} if error else {"code": _STATUS_OK},
    }
    if parent is not None:
        out["parentSpanId"] = parent
    return out


def run_spans(run: Run, tasks: Sequence[Task], events: Sequence[Event]) -> list[dict[str, Any]]:
    """Every span of the run, parents before children."""
    trace = trace_id_of(run.id)
    last = events[-1].at if events else run.created_at
    ended = next((e for e in reversed(events) if e.kind in _RUN_ENDS), None)
    root = span_id_of(run.id)
    spans = [
        _span(
            trace, root, None, f"run {run.id}", run.created_at,
            ended.at if ended else last,
            {"baton.run.id": run.id, "baton.run.goal": run.goal[:200],
             "baton.run.state": run.state.value},
            error=None if run.state.value != "failed" else "run failed",
        )
    ]  # fmt: skip
    created = {e.task_id: e.at for e in events if e.kind == "task.created" and e.task_id}
    finished: dict[str, float] = {}
    for e in events:
        if e.task_id and e.kind in _TERMINAL:
            finished[e.task_id] = e.at
    for t in tasks:
        start = created.get(t.id, run.created_at)
        spans.append(
            _span(
                trace, span_id_of(run.id, t.id), root, f"task {t.key}", start,
                finished.get(t.id, last),
                {"baton.run.id": run.id, "baton.task.id": t.id, "baton.task.role": t.role,
                 "baton.task.state": t.state.value, "baton.task.attempts": t.attempts},
                error=None if t.state.value != "failed" else "task failed",
            )
        )  # fmt: skip
    by_task: dict[str, list[tuple[float, float, str]]] = {}
    for a in attempts(events):
        sid = span_id_of(run.id, a.task_id, a.kind, a.number)
        end = a.end if a.end is not None else last
        by_task.setdefault(a.task_id, []).append((a.start, end, sid))
        spans.append(
            _span(
                trace, sid, span_id_of(run.id, a.task_id), f"attempt {a.kind} #{a.number}",
                a.start, end,
                {"baton.run.id": run.id, "baton.task.id": a.task_id,
                 "baton.participant": a.participant, "baton.attempt.kind": a.kind,
                 "baton.attempt.number": a.number, "baton.attempt.outcome": a.outcome,
                 "baton.attempt.wait_s": round(a.wait_s, 6)},
                error=a.outcome if a.retried else None,
            )
        )  # fmt: skip
    spans.extend(_calls(trace, run.id, events, by_task))
    return spans


def _attempt_at(
    windows: Sequence[tuple[float, float, str]] | None, at: float, fallback: str
) -> str:
    """The attempt span a call at ``at`` belongs to (the last one started by then)."""
    best = fallback
    for start, _end, sid in windows or ():
        if start <= at:
            best = sid
    return best


def _calls(
    trace: str,
    run_id: str,
    events: Iterable[Event],
    by_task: dict[str, list[tuple[float, float, str]]],
) -> list[dict[str, Any]]:
    """Model calls and tool (effect) calls, under the attempt they happened in."""
    out: list[dict[str, Any]] = []
    effects: dict[tuple[str, str], Event] = {}
    for e in events:
        if e.task_id is None:
            continue
        parent = _attempt_at(by_task.get(e.task_id), e.at, span_id_of(run_id, e.task_id))
        if e.kind == "task.usage":
            p = e.payload
            model = str(p.get("model", ""))
            out.append(
                _span(
                    trace, span_id_of(run_id, "usage", e.seq), parent, f"chat {model}",
                    e.at, e.at,
                    {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                     "gen_ai.usage.input_tokens": p.get("input_tokens"),
                     "gen_ai.usage.output_tokens": p.get("output_tokens"),
                     "baton.cost_usd": p.get("cost_usd"), "baton.run.id": run_id,
                     "baton.task.id": e.task_id, "baton.participant": e.actor},
                    kind=_SPAN_KIND_CLIENT,
                )
            )  # fmt: skip
        elif e.kind == "effect.started":
            effects[(e.task_id, str(e.payload.get("step")))] = e
        elif e.kind == "effect.recorded":
            began = effects.pop((e.task_id, str(e.payload.get("step"))), e)
            step = str(e.payload.get("step"))
            out.append(
                _span(
                    trace, span_id_of(run_id, "effect", e.seq),
                    _attempt_at(by_task.get(e.task_id), began.at, parent),
                    f"execute_tool {step}", began.at, e.at,
                    {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step,
                     "baton.effect.key": e.payload.get("key"), "baton.run.id": run_id,
                     "baton.task.id": e.task_id, "baton.participant": e.actor},
                )
            )  # fmt: skip
    return out


def otlp_json(run: Run, tasks: Sequence[Task], events: Sequence[Event]) -> dict[str, Any]:
    """The run's spans as one OTLP/JSON ``ExportTraceServiceRequest``."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", SERVICE)]},
                "scopeSpans": [
                    {
                        "scope": {"name": "baton.trace_export"},
                        "spans": run_spans(run, tasks, events),
                    }
                ],
            }
        ]
    }
