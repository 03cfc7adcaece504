"""A backend feature built by teams: hierarchical, an architect over three team leads.

Run it: ``python -m examples.hierarchy.run``.
"""

from __future__ import annotations
