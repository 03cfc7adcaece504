"""A content pipeline on the board: research, write, edit (a real review), design, publish.

Run it: ``python -m examples.content_pipeline.run``.
"""

from __future__ import annotations
