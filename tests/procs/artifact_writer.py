"""One of the processes of the shared-artifact test: ``updates`` read-modify-write
updates of one text and one JSON artifact, each based on the version it read, retried
on :class:`ArtifactConflict` (re-read, re-apply) until it lands. It says ``ready`` once
its board is open and starts on the line its parent sends to every writer at once, so
that the writers overlap however slowly each process started. Prints one JSON line:
how many writes merged and how many were refused and retried."""

from __future__ import annotations

import asyncio
import json
import sys

from baton import ArtifactConflict, Board


def insert_line(text: str, section: str, line: str) -> str:
    """``text`` with ``line`` added at the end of the section headed ``## section``."""
    lines = text.splitlines(keepends=True)
    at = lines.index(f"## {section}\n") + 1
    while at < len(lines) and not lines[at].startswith("## "):
        at += 1
    return "".join([*lines[:at], line + "\n", *lines[at:]])


async def main(url: str, run_id: str, name: str, updates: int) -> None:
    board = Board.open(url, create=False)
    merged = conflicts = 0
    try:
        await board.read_artifact(run_id, "state.json")  # opened and warm
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # every writer starts at once
        for i in range(updates):
            mark = f"{name}-{i}"
            while True:  # text: my line at the end of my section
                head = await board.read_artifact(run_id, "notes.md")
                text = insert_line(head.content, name, mark)
                try:
                    wrote = await board.write_artifact(
                        run_id, "notes.md", text, base=head.version.version, author=name
                    )
                except ArtifactConflict:
                    conflicts += 1
                    continue
                merged += wrote.merged
                break
            while True:  # json: a field of my own, and an entry in the shared log
                doc = await board.read_artifact(run_id, "state.json")
                value = doc.content
                value["updates"][mark] = i
                value["log"].append(mark)
                try:
                    wrote = await board.write_artifact(
                        run_id, "state.json", value, base=doc.version.version, author=name
                    )
                except ArtifactConflict:
                    conflicts += 1
                    continue
                merged += wrote.merged
                break
    finally:
        await board.close()
    print(json.dumps({"name": name, "merged": merged, "conflicts": conflicts}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
