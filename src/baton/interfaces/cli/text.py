"""Stored text printed safely. Everything on a board was written by someone else — an
agent's error message, a title, a goal — so the CLI prints it as text, never as rich
markup (``[/api/users]`` is a route, not a closing tag; the consoles run with
``markup=False``), and with control characters made visible, so that a run id holding
terminal escapes cannot recolour, move or clear the operator's screen."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: object, *, newlines: bool = False) -> str:
    """``value`` as printable text: control characters shown as ``\\xNN`` (newlines and
    tabs too, unless ``newlines``)."""
    text = str(value)
    if not newlines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
