"""Keeping secrets out of everything Baton writes: events, task errors and outputs,
messages, escalations, logs, spans, HTTP error bodies.

A :class:`Redactor` replaces, in any text or JSON value:

* the exact values it was given — what the process's environment holds under secret
  names (``*_API_KEY``, ``*_TOKEN``, ``*SECRET*``, ``*PASSWORD*``…, see
  :func:`secret_values`) and the secrets a worker resolved for a task's inputs;
* shapes that are secrets wherever they appear: Baton participant tokens, bearer
  credentials and ``Authorization`` header values, OpenAI/Anthropic-style ``sk-`` keys,
  AWS access key ids, GitHub and Slack tokens, PEM private keys;
* the string value of any JSON field whose name says it is a credential
  (``authorization``, ``api_key``, ``password``, ``client_secret``…).

It is applied at the boundaries: the Board redacts every event payload and every error
it stores (whatever door the write came through), the worker redacts what an agent
hands in and raises before it leaves the process, the log setup redacts every record,
the HTTP door every error body. Artifacts are shared work products and are stored as
written; the secret values a process knows are still never put into them by Baton.

Redaction replaces with :data:`REDACTED`; it never raises, and a value with nothing to
redact comes back as the same object (no copies on the hot path).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

#: How deep :meth:`Redactor.value` descends (well past ``Limits.max_depth``' default 64).
MAX_DEPTH = 256

#: Values shorter than this are not redacted by value: "1" or "true" in an environment
#: variable named *_TOKEN would otherwise blank every "1" in the log.
MIN_SECRET_LENGTH = 6

#: Environment variable names whose values are secrets.
SECRET_NAME = re.compile(
    r"(API_?KEY|ACCESS_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_?KEY|AUTH)",
    re.IGNORECASE,
)

#: JSON field names whose string values are credentials, whatever they look like.
SECRET_FIELD = re.compile(
    r"^(authorization|proxy[-_]authorization|x[-_]api[-_]key|api[-_]?key|apikey|"
    r"access[-_]token|refresh[-_]token|id[-_]token|client[-_]secret|secret|password|"
    r"passwd|private[-_]key|cookie|set[-_]cookie)$",
    re.IGNORECASE,
)

_SHAPES = re.compile(
    "|".join(
        (
            r"baton_pt_[A-Za-z0-9_\-]{8,}",  # Baton participant tokens
            r"(?i:bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}",  # credentials after a scheme
            r"\bsk-[A-Za-z0-9_\-]{16,}",  # OpenAI, Anthropic (sk-ant-…), project keys
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",  # GitHub tokens
            r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack tokens
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        )
    )
)
#: ``Authorization: <anything>`` in header dumps and error bodies that echo a request.
_HEADER = re.compile(
    r"(?i)((?:proxy-)?authorization|x-api-key|api-key|cookie)(\"?\s*[:=]\s*\"?)([^\r\n\",}]+)"
)


#: A header value that only shows the form (``Bearer <token>``), as help texts do.
_PLACEHOLDER = re.compile(r"(?:\w+\s+)?<[^<>]{1,40}>.*", re.DOTALL)


def _header_value(m: re.Match[str]) -> str:
    if _PLACEHOLDER.fullmatch(m.group(3).strip()):
        return m.group(0)
    return m.group(1) + m.group(2) + REDACTED


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the environment variables whose names say they are secrets."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH]


class Redactor:
    """Replaces secrets in text and JSON values. See the module docstring."""

    __slots__ = ("_exact", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values = tuple(sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len))
        # Longest first, so that a secret containing another is replaced whole.
        self._exact = (
            re.compile("|".join(re.escape(v) for v in reversed(self._values)))
            if self._values
            else None
        )

    @classmethod
    def from_environment(cls, extra: Iterable[str] = ()) -> Redactor:
        """Knowing this process's secret environment values (and ``extra``)."""
        return cls([*secret_values(), *extra])

    def knowing(self, values: Iterable[str]) -> Redactor:
        """A redactor that also knows ``values`` (a task's resolved secrets)."""
        more = [v for v in values if v not in self._values]
        return Redactor([*self._values, *more]) if more else self

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        if self._exact is not None:
            text = self._exact.sub(REDACTED, text)
        text = _HEADER.sub(_header_value, text)
        return _SHAPES.sub(REDACTED, text)

    def value(self, value: Any, _depth: int = 0) -> Any:
        """A JSON value with secrets replaced in every string (and every string under a
        credential-named field replaced whole). Unchanged values are returned as is.
        Past :data:`MAX_DEPTH` levels a value is left alone: the Board refuses anything
        that deep anyway (``Limits.max_depth``), and recursion must stay bounded."""
        if isinstance(value, str):
            return self.text(value)
        if _depth >= MAX_DEPTH:
            return value
        if isinstance(value, Mapping):
            changed = False
            out: dict[Any, Any] = {}
            for k, v in value.items():
                if isinstance(k, str) and isinstance(v, str) and v and SECRET_FIELD.match(k):
                    new: Any = REDACTED
                else:
                    new = self.value(v, _depth + 1)
                changed = changed or new is not v
                out[k] = new
            return out if changed else value
        if isinstance(value, list | tuple):
            items = [self.value(v, _depth + 1) for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                return items if isinstance(value, list) else tuple(items)
            return value
        return value


#: A task input value ``{"$secret": "NAME"}`` stands for the secret ``NAME``: the board
#: stores the reference, never the value; the worker that claims the task resolves it
#: from its own environment (or the ``secrets`` it was given) for the agent, and redacts
#: the value from everything the attempt hands back.
SECRET_REF = "$secret"


def secret_names(value: Any) -> list[str]:
    """The secrets a task input refers to, in order of appearance."""
    found: list[str] = []

    def visit(v: Any) -> None:
        if isinstance(v, Mapping):
            if set(v) == {SECRET_REF} and isinstance(v[SECRET_REF], str):
                found.append(v[SECRET_REF])
                return
            for item in v.values():
                visit(item)
        elif isinstance(v, list):
            for item in v:
                visit(item)

    visit(value)
    return found


def resolve_secrets(value: Any, source: Mapping[str, str]) -> Any:
    """``value`` with every secret reference replaced by its value from ``source``
    (a ``KeyError`` naming the first missing one if any is not there)."""
    if isinstance(value, Mapping):
        if set(value) == {SECRET_REF} and isinstance(value[SECRET_REF], str):
            return source[value[SECRET_REF]]
        return {k: resolve_secrets(v, source) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, source) for v in value]
    return value
