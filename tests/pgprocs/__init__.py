"""Helpers for the PostgreSQL process-level tests (chaos, faults, hosts): worker entry
points that run in real OS processes, and control of the throwaway test server."""

from __future__ import annotations
