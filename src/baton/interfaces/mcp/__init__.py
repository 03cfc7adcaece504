"""The MCP door: the Board as Model Context Protocol tools and resources, so that coding
agents (Claude Code, Codex, Cursor, Gemini CLI) join a board as participants.

One server definition (:func:`.server.build_server`) serves two transports: stdio
(``baton mcp``, :mod:`.stdio`) and streamable HTTP at ``/mcp`` on ``baton serve``
(:mod:`.http`). Every tool call runs on the Board acting as the authenticated
participant, so every rule is the Board's; the door translates and decides nothing.

Tools live in groups, one module each under :mod:`.tools`; :mod:`.registry` gives every
tool the same plumbing (input schema from a pydantic model, the caller's Board, JSON
results, Baton errors as MCP tool errors).

May import: ``baton.board``, ``baton.runtime``, ``baton.planning``, ``baton.views``,
``baton.model`` and the HTTP door's error table; never ``baton.store``.
"""

from __future__ import annotations
