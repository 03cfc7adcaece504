"""The planning layer: checking plans whole before anything is written — the graph
(ids, roles, cycles, contracts), plan files on disk, and tasks added to a live run.

May import: ``baton.model``. Nothing here reads or writes a store.
"""
