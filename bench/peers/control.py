"""The runner's line protocol with a system's control process: standard library only.

Every system's module runs, besides its workers, one long-lived *control* process in
that system's own interpreter (its venv, its imports): the runner sends it one JSON
object per line on stdin (``{"op": "submit", "run": ..., "spec": ...}``) and reads one
JSON object per line back. So the runner imports no peer at all — its memory and CPU
figures are not mixed with theirs, and Baton runs from the project's venv while the
peers run from theirs. The protocol's own stdout is kept for the replies; anything a
library prints goes to stderr (the control's log file).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def serve(handlers: dict[str, Handler]) -> None:
    """Answer requests until stdin closes or ``{"op": "quit"}``."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # a stray print() must not corrupt the replies
    sys.stdout = sys.stderr
    out.write(json.dumps({"ok": True, "ready": True}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        try:
            reply = handlers[req["op"]](req) or {}
            out.write(json.dumps({"ok": True, **reply}) + "\n")
        except Exception:
            out.write(json.dumps({"ok": False, "error": traceback.format_exc()}) + "\n")
    out.close()
