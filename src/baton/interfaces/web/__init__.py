"""The web board: pages for people, served by ``baton serve`` at ``/`` (docs/web.md)."""
