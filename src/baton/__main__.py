"""``python -m baton`` is the ``baton`` command."""

from __future__ import annotations

from baton.cli import main

main()
