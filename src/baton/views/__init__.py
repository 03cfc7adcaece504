"""The views layer: what people read, computed from the board's data — narration,
replay of the event log, usage reports.

May import: ``baton.model``. Views take runs, tasks and events as arguments; they never
open a store themselves.
"""
