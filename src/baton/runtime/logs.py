"""The one logging setup for Baton's processes (``baton worker``, ``baton serve``,
``baton mcp``, ``baton orchestrate``) and for programs that embed a Worker.

* JSON lines when stderr is not a terminal (what log shippers read), one readable line
  when it is;
* every record carries the run, task, participant and trace ids of the attempt it was
  logged in (set by the worker through :func:`attempt_context`, read from context
  variables, so no log call has to pass them);
* every record is redacted (model/redaction.py) after formatting: a secret in an
  exception message or a provider's error body never reaches the log.

``configure_logging`` is idempotent: it replaces its own handler, never adds a second.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from baton.model.redaction import Redactor

#: What the current attempt is: run, task, participant, trace (absent outside one).
_ATTEMPT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "baton_attempt", default=None
)

#: What the current attempt also redacts: the secrets its task's input resolved to.
_SECRETS: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "baton_attempt_secrets", default=None
)

_FIELDS = ("run", "task", "participant", "trace_id", "span_id")


@contextmanager
def attempt_context(redactor: Redactor | None = None, **ids: str) -> Iterator[None]:
    """Within this block, every log record carries ``ids`` (run, task, participant,
    trace_id, span_id) and is also redacted by ``redactor`` (the attempt's secrets)."""
    merged = {**(_ATTEMPT.get() or {}), **{k: v for k, v in ids.items() if v}}
    reset = _ATTEMPT.set(merged)
    reset_secrets = _SECRETS.set(redactor) if redactor is not None else None
    try:
        yield
    finally:
        if reset_secrets is not None:
            _SECRETS.reset(reset_secrets)
        _ATTEMPT.reset(reset)


def current_ids() -> dict[str, str]:
    """The ids of the attempt this code runs in (empty outside one)."""
    return dict(_ATTEMPT.get() or {})


class _BatonHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so a second setup replaces it."""


class RedactingFormatter(logging.Formatter):
    """Formats a record as JSON or as one line, with the attempt's ids, then redacts."""

    def __init__(self, *, as_json: bool, redactor: Redactor) -> None:
        super().__init__()
        self.as_json = as_json
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = self.redactor.text(self._format(record))
        attempt = _SECRETS.get()
        return text if attempt is None else attempt.text(text)

    def _format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        ids = {**current_ids(), **{k: getattr(record, k) for k in _FIELDS if hasattr(record, k)}}
        if self.as_json:
            entry: dict[str, Any] = {
                "ts": round(record.created, 6),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
                **ids,
            }
            return json.dumps(entry, ensure_ascii=False, default=str)
        when = time.strftime("%H:%M:%S", time.localtime(record.created))
        where = " ".join(f"{k}={v}" for k, v in ids.items() if k in ("run", "task", "participant"))
        line = f"{when} {record.levelname:<7} {record.name}: {message}"
        return f"{line}  [{where}]" if where else line


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    as_json: bool | None = None,
    redactor: Redactor | None = None,
) -> logging.Handler:
    """Send Baton's (and the root logger's) records to ``stream`` (stderr), JSON unless
    it is a terminal; returns the handler."""
    out = stream or sys.stderr
    use_json = (not out.isatty()) if as_json is None else as_json
    handler = _BatonHandler(out)
    handler.setFormatter(
        RedactingFormatter(as_json=use_json, redactor=redactor or Redactor.from_environment())
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BatonHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
