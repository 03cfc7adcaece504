"""Helpers for the process-level tests (race, crash): worker entry points that run in real
OS processes, and checks over a store's whole event log."""

from __future__ import annotations
