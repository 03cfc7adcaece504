"""The runtime layer: processes that work the board — the worker (and its lease
keeping), the watchdog duty, the orchestrator, agents, agent loading and process
signals.

May import: ``baton.board`` (its :class:`~baton.board.BoardAPI` interface only, so that
a remote board serves as well as a local one), ``baton.planning``, ``baton.views``,
``baton.model``. Never ``baton.store``.
"""
