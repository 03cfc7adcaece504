"""Errors on the wire: every :class:`~baton.model.errors.BatonError` is one HTTP status
(one table, :data:`STATUS`) and an ``application/problem+json`` body (RFC 9457) that
carries Baton's error code and the error's own fields, so that the remote Board raises
the very exception the local Board would have raised.

A participant that may not see a run is answered exactly as if the run did not exist
(404, ``NotFound``): over HTTP the existence of a run is not leaked.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from baton.model import errors as e
from baton.model.redaction import Redactor

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://baton.dev/problems/"

#: Each error class and its status; a subclass not listed takes its nearest listed
#: ancestor's. 4xx: the caller must change something; 5xx: retrying may work.
STATUS: dict[type[e.BatonError], int] = {
    e.Unauthenticated: 401,
    e.PermissionDenied: 403,
    e.NotFound: 404,
    e.StoreNotFound: 404,
    e.InvalidTransition: 409,
    e.IdempotencyConflict: 409,
    e.LeaseLost: 409,
    e.RunFailed: 409,
    e.InvalidPlan: 422,
    e.InvalidMessage: 422,
    e.InvalidArgument: 422,
    e.ContractViolation: 422,
    e.UsageError: 400,
    e.TransientConflict: 503,
    e.StoreUnavailable: 503,
    e.SchemaTooNew: 500,
    e.BatonRuntimeError: 500,
    e.Signal: 409,
    e.BatonError: 500,
}

#: Error codes the client may rebuild: every public error class, by name.
_BY_CODE: dict[str, type[e.BatonError]] = {
    cls.__name__: cls
    for cls in vars(e).values()
    if isinstance(cls, type) and issubclass(cls, e.BatonError)
}


def status_of(error: e.BatonError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500  # pragma: no cover - BatonError itself is in the table


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _title(error: e.BatonError) -> str:
    """The error class's first sentence: what kind of problem this is."""
    doc = " ".join((type(error).__doc__ or type(error).__name__).split())
    return doc.split(". ")[0].rstrip(".") + "."


def problem(error: e.BatonError) -> tuple[int, dict[str, Any]]:
    """The status and problem body for ``error``."""
    if isinstance(error, e.PermissionDenied) and error.unseen:
        error = e.NotFound("run", error.run_id)
    status = status_of(error)
    code = type(error).__name__
    fields = {k: _plain(v) for k, v in vars(error).items() if not k.startswith("_")}
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": _title(error),
        "status": status,
        "detail": str(error),
        "code": code,
        "fields": fields,
    }
    if isinstance(error, e.InvalidPlan):
        body["offending_ids"] = error.offending_ids
    # An error may quote what the caller sent or a provider answered: never a secret.
    redacted: dict[str, Any] = Redactor.from_environment().value(body)
    return status, redacted


def plain_problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem body for an error the door itself finds (malformed JSON, too large)."""
    return {
        "type": TYPE_BASE + code,
        "title": code,
        "status": status,
        "detail": detail,
        "code": code,
        "fields": extra,
    }


def rebuild(body: dict[str, Any], status: int) -> e.BatonError:
    """The exception a problem body describes, as the local Board raised it: same
    class, same message, same fields. An unknown code becomes the nearest family
    (a 4xx :class:`UsageError`, else :class:`BatonRuntimeError`)."""
    code = str(body.get("code", ""))
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    cls = _BY_CODE.get(code) or (e.UsageError if 400 <= status < 500 else e.BatonRuntimeError)
    error = cls.__new__(cls)
    BaseException.__init__(error, detail)
    fields = body.get("fields")
    if isinstance(fields, dict):
        for name, value in fields.items():
            if name == "problems" and code == "InvalidPlan" and isinstance(value, list):
                value = [
                    e.PlanProblem(p["code"], p["message"], tuple(p.get("ids", ())))
                    for p in value
                    if isinstance(p, dict)
                ]
            setattr(error, name, value)
    return error
