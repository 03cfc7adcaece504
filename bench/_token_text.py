"""Seeded stand-in text of a given token size, for bench/tokens.py.

The example agents answer with small JSON (they are scripted, no model is called); a
real model's answer to the same task is larger — code, prose, a review. So each output
in the token benchmark is the agent's real output followed by seeded filler of the kind
and size typical for its role (:data:`OUTPUT_TOKENS`), the same on every run.
"""

from __future__ import annotations

import random
import zlib

from baton.views.tokens import count_tokens, first_tokens

#: Output tokens typical for each role's answer (a real model's, not the scripted
#: agents'): a code change of ~100 lines is ~1,200 tokens, a review ~250, a doc page
#: ~900, a structured decision ~150-400. Planners and leads answer with their plan,
#: which is real (their sub-plan), so they get no filler.
OUTPUT_TOKENS: dict[str, int] = {
    "planner": 0, "architect": 0, "api_lead": 0, "db_lead": 0, "devops_lead": 0,
    "backend": 1200, "frontend": 1200, "coder": 1200, "api_dev": 1200, "db_dev": 900,
    "devops": 500, "infra": 500, "ops": 300, "tester": 700,
    "docs": 900, "writer": 900, "researcher": 800, "designer": 400, "publisher": 300,
    "validator": 150, "fraud": 250, "payments": 150, "accounting": 150, "notifier": 200,
    "triage": 250, "billing": 400, "technical": 500, "responder": 350,
}  # fmt: skip
DEFAULT_OUTPUT_TOKENS = 400
REVIEW_TOKENS = 250  # a verdict with its reasons
CODE_ROLES = frozenset(
    {"backend", "frontend", "coder", "api_dev", "db_dev", "devops", "infra", "tester"}
)


def _words(text: str) -> list[str]:
    return text.split()


_WORDS = _words(
    "the a an of to and in for on with that this is are be by as from at it its not or "
    "we will should must can may each every when then if so but also only than more "
    "task board agent review output input schema endpoint profile user account order "
    "test tests case cases value field fields column table migration index query page "
    "request response error errors status code handler service client server cache "
    "change changes version release deploy build pipeline check checks result results "
    "plan step steps team role owner document section example note issue fix fixed "
    "returns validates handles stores reads writes sends keeps adds removes updates "
    "new old first last next previous same other small large empty valid invalid slow "
    "fast safe unsafe public private current final shared local remote primary"
)
_NAMES = _words(
    "profile user order item cart account session token page query result row batch "
    "cursor limit offset total price amount status owner record entry event"
)
_CALLS = _words("load save fetch parse render check build apply merge count update delete")


def _rng(key: str) -> random.Random:
    return random.Random(zlib.crc32(key.encode()))


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", ":", ";"])


def _prose(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5))) + "\n\n"


def _code(rng: random.Random) -> str:
    name = f"{rng.choice(_CALLS)}_{rng.choice(_NAMES)}"
    args = ", ".join(rng.sample(_NAMES, rng.randint(1, 3)))
    lines = [f"def {name}({args}):", f'    """{_sentence(rng)}"""']
    for _ in range(rng.randint(3, 9)):
        target, call, arg = rng.choice(_NAMES), rng.choice(_CALLS), rng.choice(_NAMES)
        lines.append(
            rng.choice(
                [
                    f"    {target} = {call}({arg}, limit={rng.randint(1, 500)})",
                    f"    if not {target}:\n        raise ValueError('{arg} is {call}ed')",
                    f"    for {arg} in {target}.{call}():\n        {call}({arg})",
                    f"    # {_sentence(rng)}",
                ]
            )
        )
    lines.append(f"    return {rng.choice(_NAMES)}\n\n")
    return "\n".join(lines)


def filler(key: str, tokens: int, *, code: bool) -> str:
    """Seeded text of exactly ``tokens`` tokens (or one fewer where a cut lands so),
    code-like or prose; the same for the same ``key``."""
    if tokens <= 0:
        return ""
    rng = _rng(key)
    parts: list[str] = []
    have = 0
    while have < tokens:
        part = _code(rng) if code else _prose(rng)
        parts.append(part)
        have += count_tokens(part)
    return first_tokens("".join(parts), tokens)


def realistic_output(key: str, role: str, real: str, *, review: bool = False) -> str:
    """The agent's real output, then filler up to the size typical for ``role``."""
    target = REVIEW_TOKENS if review else OUTPUT_TOKENS.get(role, DEFAULT_OUTPUT_TOKENS)
    missing = target - count_tokens(real)
    if missing <= 0:
        return real
    return f"{real}\n\n{filler(key, missing, code=role in CODE_ROLES and not review)}"


def document(name: str, tokens: int) -> str:
    """A shared document (requirements, a spec, a style guide) of about ``tokens``."""
    rng = _rng(name)
    title = f"# {name}\n\n"
    body = filler(name, tokens - count_tokens(title), code=False)
    sections = [f"## {rng.choice(_NAMES).title()} {i}\n" for i in range(1, 6)]
    paragraphs = body.split("\n\n")
    step = max(1, len(paragraphs) // len(sections))
    out = [title]
    for i, paragraph in enumerate(paragraphs):
        if i % step == 0 and sections:
            out.append(sections.pop(0))
        out.append(paragraph + "\n\n")
    return "".join(out).rstrip() + "\n"
