"""Customer-support triage on the board: peer-to-peer, no planner.

Run it: ``python -m examples.support_triage.run``.
"""

from __future__ import annotations
