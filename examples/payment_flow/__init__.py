"""A payment pipeline whose fraud check stops everything downstream of it.

Run it: ``python -m examples.payment_flow.run``.
"""

from __future__ import annotations
