"""Live OpenTelemetry tracing: one trace per run, across processes and doors.

Baton's code uses only the OpenTelemetry *API*; with no SDK configured every span is
the API's no-op (measured in bench/tracing.py). :func:`configure_tracing` sets the SDK
up from the standard environment — ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``,
or ``none``, the default), ``OTEL_SERVICE_NAME``, the ``OTEL_EXPORTER_OTLP_*``
settings — plus ``BATON_TRACE_FILE`` (spans as JSON lines to a file). Programs that set
up their own SDK need not call it.

One run is one trace without anyone passing context around: every attempt span's
parent is the run's span, whose trace and span ids are derived from the run id
(:func:`~baton.views.trace_export.trace_id_of`), the same ids ``baton trace RUN
--otlp-json`` gives the run span it rebuilds from the event log — so live spans and
the exported run/task spans join into one tree. Inside an attempt, model calls and side
effects are child spans; a Board call over HTTP carries the W3C ``traceparent`` of the
current span, and ``baton serve`` continues it (:func:`server_span`), so the server's
work for an attempt is inside the attempt.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace import TraceFlags as _Flags

from baton.model import TaskState
from baton.model.redaction import Redactor
from baton.views.trace_export import span_id_of, trace_id_of

TRACER = trace.get_tracer("baton")


def tracing_on() -> bool:
    """Whether any tracer provider was installed (Baton's, or the program's own). Until
    then the spans below are not even created: the API's no-op spans cost ~16 µs an
    attempt, this check well under one."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def run_context(run_id: str) -> Context:
    """A context whose current span is the run's (remote, never recorded here)."""
    parent = SpanContext(
        trace_id=int(trace_id_of(run_id), 16),
        span_id=int(span_id_of(run_id), 16),
        is_remote=True,
        trace_flags=_Flags(_Flags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextmanager
def attempt_span(
    run_id: str, task_id: str, role: str, participant: str, kind: str, token: int
) -> Iterator[trace.Span]:
    """The span of one attempt, a child of the run's span."""
    if not tracing_on():
        yield trace.INVALID_SPAN
        return
    with TRACER.start_as_current_span(
        f"attempt {kind} {task_id.split('/')[-1]}",
        context=run_context(run_id),
        attributes={
            "baton.run.id": run_id,
            "baton.task.id": task_id,
            "baton.task.role": role,
            "baton.participant": participant,
            "baton.attempt.kind": kind,
            "baton.attempt.token": token,
        },
    ) as span:
        yield span


def model_call_span(
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    ids: Mapping[str, str],
    context: Context | None = None,
) -> None:
    """A finished model call, as a GenAI ``chat`` span under the attempt (``context``,
    or the current span)."""
    if not tracing_on():
        return
    with TRACER.start_as_current_span(
        f"chat {model}",
        context=context,
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "baton.cost_usd": cost_usd,
            **ids,
        },
    ):
        pass


@contextmanager
def tool_span(step: str, key: str) -> Iterator[trace.Span]:
    """A side effect (``ctx.effect``) as an ``execute_tool`` span."""
    if not tracing_on():
        yield trace.INVALID_SPAN
        return
    with TRACER.start_as_current_span(
        f"execute_tool {step}",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": step,
            "baton.effect.key": key,
        },
    ) as span:
        yield span


def inject_headers(headers: MutableMapping[str, str]) -> None:
    """Add the current span's ``traceparent`` (and ``tracestate``) to ``headers``."""
    propagate.inject(headers)


@contextmanager
def server_span(method: str, route: str, headers: Mapping[str, str]) -> Iterator[trace.Span]:
    """A request ``baton serve`` handles, continuing the caller's trace if it sent one."""
    with TRACER.start_as_current_span(
        f"{method} {route}",
        context=propagate.extract(dict(headers)),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ) as span:
        yield span


def mark_error(span: trace.Span, message: str) -> None:
    span.set_status(Status(StatusCode.ERROR, Redactor.from_environment().text(message)))


# --- the SDK, from the environment --------------------------------------------------


def configure_tracing(environ: Mapping[str, str] | None = None) -> bool:
    """Install the SDK's tracer provider if the environment asks for an exporter;
    returns whether it did. Idempotent per process."""
    env = os.environ if environ is None else environ
    _configure_metrics(env)
    wanted = env.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    trace_file = env.get("BATON_TRACE_FILE")
    if wanted in ("", "none") and not trace_file:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
            SpanExporter,
        )
    except ImportError:  # the API alone: spans stay no-ops
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "baton")})
    )
    if trace_file:
        provider.add_span_processor(SimpleSpanProcessor(_jsonl_exporter(SpanExporter, trace_file)))
    if wanted == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif wanted == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def _configure_metrics(env: Mapping[str, str]) -> bool:
    """The SDK's meter provider, if ``OTEL_METRICS_EXPORTER`` is ``console`` or ``otlp``."""
    wanted = env.get("OTEL_METRICS_EXPORTER", "none").strip().lower()
    if wanted not in ("console", "otlp"):
        return False
    try:
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricExporter,
            PeriodicExportingMetricReader,
        )
    except ImportError:
        return False
    exporter: MetricExporter
    if wanted == "console":
        exporter = ConsoleMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    metrics.set_meter_provider(
        MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter)])
    )
    return True


def _jsonl_exporter(base: type[Any], path: str) -> Any:
    """A span exporter appending each finished span as one JSON line to ``path``."""

    class JsonLinesExporter(base):  # type: ignore[misc]
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._redact = Redactor.from_environment().text

        def export(self, spans: Sequence[Any]) -> Any:
            from opentelemetry.sdk.trace.export import SpanExportResult

            lines = [self._redact(json.dumps(json.loads(s.to_json()))) + "\n" for s in spans]
            with self._lock, open(path, "a", encoding="utf-8") as f:
                f.writelines(lines)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    return JsonLinesExporter()


# --- metrics -----------------------------------------------------------------------------
#
# Through the OpenTelemetry metrics API too, and likewise nothing at all until a meter
# provider is installed (the program's own, or configure_metrics'). Instruments:
#   baton.attempts            counter    {baton.task.role, baton.attempt.kind, outcome}
#   baton.attempt.duration    histogram  seconds from claim to hand-in (claim-to-done)
#   baton.tokens, baton.cost_usd  counters {baton.task.role, baton.run.id, gen_ai.request.model}
#   baton.tasks               gauge      {baton.run.id, baton.task.state} (watchdog pass)


def metrics_on() -> bool:
    """Whether a meter provider was installed."""
    from opentelemetry import metrics
    from opentelemetry.metrics import _internal

    return not isinstance(metrics.get_meter_provider(), _internal._ProxyMeterProvider)


@functools.cache
def _instruments() -> dict[str, Any]:
    from opentelemetry import metrics

    meter = metrics.get_meter("baton")
    return {
        "attempts": meter.create_counter("baton.attempts", description="attempts by outcome"),
        "duration": meter.create_histogram(
            "baton.attempt.duration", unit="s", description="claim to hand-in"
        ),
        "tokens": meter.create_counter("baton.tokens", description="tokens used"),
        "cost": meter.create_counter("baton.cost_usd", unit="USD", description="money spent"),
        "tasks": meter.create_gauge("baton.tasks", description="tasks by state"),
        "queue": meter.create_gauge(
            "baton.queue.depth", description="tasks waiting to be claimed, per role"
        ),
    }


def record_attempt(*, role: str, kind: str, outcome: str, seconds: float) -> None:
    if not metrics_on():
        return
    labels = {"baton.task.role": role, "baton.attempt.kind": kind, "outcome": outcome}
    _instruments()["attempts"].add(1, labels)
    _instruments()["duration"].record(seconds, labels)


def record_spend(*, role: str, run_id: str, model: str, tokens: int, cost_usd: float) -> None:
    if not metrics_on():
        return
    labels = {"baton.task.role": role, "baton.run.id": run_id, "gen_ai.request.model": model}
    _instruments()["tokens"].add(tokens, labels)
    _instruments()["cost"].add(cost_usd, labels)


def record_task_states(run_id: str, counts: Mapping[str, int]) -> None:
    """Every state's count, zero included: a gauge keeps its last value, so a state
    that emptied must say so."""
    if not metrics_on():
        return
    for state in TaskState:
        n = counts.get(state.value, 0)
        _instruments()["tasks"].set(n, {"baton.run.id": run_id, "baton.task.state": state.value})


def record_queue_depth(run_id: str, roles: Sequence[str], depth: Mapping[str, int]) -> None:
    """Each of the run's roles' queue depth (zero included, as for the states)."""
    if not metrics_on():
        return
    for role in sorted({*roles, *depth}):
        labels = {"baton.run.id": run_id, "baton.task.role": role}
        _instruments()["queue"].set(depth.get(role, 0), labels)
