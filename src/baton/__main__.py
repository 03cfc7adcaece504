"""``python -m baton`` is the ``baton`` command."""

from __future__ import annotations

from baton.interfaces.cli import main

main()
