"""The ``baton`` command line: each command translates to Board calls and prints."""

from __future__ import annotations

from baton.interfaces.cli.app import app, main

__all__ = ["app", "main"]
