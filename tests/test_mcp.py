"""The MCP door, spoken to by the MCP SDK's own client — no mocks: ``baton mcp`` spawned
as a real subprocess over stdio, and a real ``baton serve`` process at ``/mcp`` over
streamable HTTP, each on a real SQLite board file.

Both transports work the same task the same way: list the ready tasks, claim, read the
context, submit an output that breaks the contract (the validation errors come back as
a tool error), claim again and submit a valid one (the task moves on to review); then
a reviewer without the writer role is refused the claim by the Board and reviews
instead. Refusals: HTTP without a bearer token or with a bad one is 401 and an MCP
session is bound to its participant; over stdio a missing or bad token stops the server
before it serves, and a token revoked mid-session makes every call an error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import RequestParamsMeta

from baton import Board, SyncBoard, TaskState
from tests.http_door import start_serve_process

CONTRACT = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1}},
}
PLAN: dict[str, Any] = {
    "goal": "Write the release notes",
    "roles": ["writer", "reviewer", "archivist"],
    "tasks": [
        {"id": "outline", "role": "writer"},
        {"id": "aside", "role": "archivist"},  # a sibling of draft, done by the seed
        {
            "id": "draft",
            "role": "writer",
            "title": "Draft the notes",
            "depends_on": ["outline"],
            "acceptance_criteria": ["mentions every point of the outline"],
            "output_contract": CONTRACT,
            "reviewer_role": "reviewer",
            "backoff_base_s": 0,  # a failed attempt is claimable again at once
        },
    ],
}
TOOLS = {
    "find_ready_tasks", "claim", "heartbeat", "submit", "fail", "block", "release", "whoami",
    "read_task_context", "run_status", "approve", "reject", "post_message", "read_messages",
    "add_tasks", "read_artifact", "write_artifact", "artifact_history", "diff_artifact",
    "list_artifacts", "reserve", "release_reservations", "list_reservations",
}  # fmt: skip
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
#: Every wait in these tests is bounded by this, so a hang fails instead of blocking.
DEADLINE_S = 60


def _board(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A board file with run r1 whose outline is done (so draft is ready, with a
    dependency output to read), and two participants: writer w1 and reviewer critic."""
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as owner:
        owner.create_run(PLAN, run_id="r1")
        seed = owner.claim("seed", ["writer"])
        assert seed is not None and seed.task.id == "r1/outline"
        owner.submit(seed.task.id, seed.token, {"points": ["faster claims"]}, participant="seed")
        aside = owner.claim("seed", ["archivist"])
        assert aside is not None
        owner.write_artifact("r1", "notes.md", "outline notes\n", scope="r1/outline")
        owner.write_artifact("r1", "secret.md", "not for draft\n", scope="r1/aside")
        owner.submit(aside.task.id, aside.token, {}, participant="seed")
        _, w1 = owner.add_participant("w1", kind="agent", roles=["writer"], runs=["*"])
        _, critic = owner.add_participant("critic", kind="agent", roles=["reviewer"], runs=["*"])
    return db, {"w1": w1, "critic": critic}


async def ok(session: ClientSession, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(tool, args)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    assert not result.is_error, f"{tool}: {text}"
    assert isinstance(result.structured_content, dict)
    assert json.loads(text) == result.structured_content
    return result.structured_content


async def refused(session: ClientSession, tool: str, args: dict[str, Any]) -> str:
    result = await session.call_tool(tool, args)
    assert result.is_error, f"{tool} was not refused: {result}"
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def work_the_draft(writer: ClientSession, reviewer: ClientSession) -> None:
    """The whole walk, the same over either transport."""
    assert {t.name for t in (await writer.list_tools()).tools} >= TOOLS
    assert (await ok(writer, "whoami", {}))["participant"] == "w1"

    ready = await ok(writer, "find_ready_tasks", {})
    assert [t["task_id"] for t in ready["tasks"]] == ["r1/draft"]

    first = await ok(writer, "claim", {})
    assert first["claimed"] and first["task_id"] == "r1/draft" and first["kind"] == "work"

    context = await ok(writer, "read_task_context", {"task_id": "r1/draft"})
    assert context["acceptance_criteria"] == ["mentions every point of the outline"]
    assert context["dependencies"]["outline"]["output"] == {"points": ["faster claims"]}
    assert context["output_contract"] == CONTRACT
    assert context["after_submit"] == "to review by the reviewer role"
    assert context["your_lease"]["token"] == first["token"]

    bad = await refused(
        writer, "submit", {"task_id": "r1/draft", "token": first["token"], "output": {"txt": 1}}
    )
    assert bad.startswith("ContractViolation: ")
    assert "validation errors:\n- <root>: 'text' is a required property" in bad

    again = await ok(writer, "claim", {"roles": ["writer"], "run_id": "r1"})
    assert again["task_id"] == "r1/draft" and again["token"] > first["token"]
    retry = await ok(writer, "read_task_context", {"task_id": "r1/draft"})
    assert retry["previous_attempt_errors"] == ["<root>: 'text' is a required property"]
    await share_work(writer, again["token"])
    done = await ok(
        writer,
        "submit",
        {"task_id": "r1/draft", "token": again["token"], "output": {"text": "Claims are faster."}},
    )
    assert done["state"] == "in_review"

    # The reviewer lacks the writer role: the Board refuses the claim.
    denied = await refused(reviewer, "claim", {"roles": ["writer"]})
    assert denied.startswith("PermissionDenied: critic may not claim")
    assert "it does not have the role(s) writer" in denied
    review = await ok(reviewer, "claim", {})
    assert review["kind"] == "review" and review["task_id"] == "r1/draft"
    approved = await ok(
        reviewer, "approve", {"task_id": "r1/draft", "token": review["token"], "comment": "good"}
    )
    assert approved["state"] == "done"
    status = await ok(reviewer, "run_status", {"run_id": "r1"})
    assert status["state"] == "finished" and status["narration"].startswith("Run finished")
    narration = await writer.read_resource("baton://runs/r1/narration")
    assert narration.contents[0].text.startswith("Run finished")  # type: ignore[union-attr]


async def share_work(writer: ClientSession, token: int) -> None:
    """Artifacts and reservations through the door, scoped by the Board."""
    scopes = {(a["name"], a["scope"]) for a in (await ok(writer, "read_task_context",
              {"task_id": "r1/draft"}))["artifacts"]}  # fmt: skip
    assert scopes == {("notes.md", "r1/outline")}  # its dependency's, not its sibling's
    notes = await ok(
        writer, "read_artifact",
        {"run_id": "r1", "name": "notes.md", "scope": "r1/outline", "task_id": "r1/draft"},
    )  # fmt: skip
    assert notes["content"] == "outline notes\n" and notes["version"]["version"] == 1
    sibling = await refused(
        writer, "read_artifact",
        {"run_id": "r1", "name": "secret.md", "scope": "r1/aside", "task_id": "r1/draft"},
    )  # fmt: skip
    assert sibling.startswith("PermissionDenied: w1 may not read artifacts of r1/aside")
    mine = {"run_id": "r1", "name": "draft.md", "scope": "r1/draft", "task_id": "r1/draft",
            "token": token}  # fmt: skip
    first = await ok(writer, "write_artifact", {**mine, "content": "one\ntwo\n"})
    assert first["version"]["version"] == 1
    await ok(writer, "write_artifact", {**mine, "content": "ONE\ntwo\n", "base": 1})
    stale = await refused(writer, "write_artifact", {**mine, "content": "uno\ntwo\n", "base": 1})
    assert stale.startswith("ArtifactConflict: ") and "version 2" in stale
    diff = await ok(writer, "diff_artifact", {**{k: mine[k] for k in ("run_id", "name",
                    "scope", "task_id")}, "from_version": 1})  # fmt: skip
    assert "-one" in diff["diff"] and "+ONE" in diff["diff"]
    shared = await refused(writer, "write_artifact", {**mine, "scope": None, "content": "x"})
    assert shared.startswith("PermissionDenied: ")  # no context grant: own scope only
    taken = await ok(
        writer, "reserve", {"task_id": "r1/draft", "token": token, "resources": ["docs/**"]}
    )
    assert taken["reservations"][0]["holder"] == "w1"
    held = await ok(writer, "list_reservations", {"run_id": "r1"})
    assert [r["resource"] for r in held["reservations"]] == ["docs/**"]


def assert_worked(db: str) -> None:
    """What the store says afterwards: each step recorded as the participant that made
    it, the refused claim among them."""
    with SyncBoard.open(db) as owner:
        draft = owner.get_task("r1/draft")
        assert draft.state is TaskState.DONE and draft.worked_by == "w1"
        assert draft.output == {"text": "Claims are faster."}
        kinds = [(e.kind, e.actor) for e in owner.events()]  # access.denied has no run
    assert ("task.claim", "w1") in kinds and ("task.retry", "w1") in kinds
    assert ("access.denied", "critic") in kinds and ("task.approve", "critic") in kinds


# --- stdio: `baton mcp` as a subprocess --------------------------------------------------


@asynccontextmanager
async def stdio_session(
    db: str, token: str | None, errlog: TextIO, extra_env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    # The SDK passes the server only a few safe variables; the token is given, and so
    # is PYTHONPATH when set, so that the server runs the same baton as the test.
    env = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ} | (extra_env or {})
    if token is not None:
        env["BATON_TOKEN"] = token
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "baton", "mcp", "--db", db], env=env
    )
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.mark.timeout(DEADLINE_S + 30)
def test_stdio_an_agent_works_a_task_through_baton_mcp(tmp_path: Path) -> None:
    db, tokens = _board(tmp_path)

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S), open(tmp_path / "stderr.txt", "w") as errlog:
            async with (
                stdio_session(db, tokens["w1"], errlog) as writer,
                stdio_session(db, tokens["critic"], errlog) as reviewer,
            ):
                await work_the_draft(writer, reviewer)
                context = await writer.read_resource("baton://tasks/r1/draft/context")
                body = json.loads(context.contents[0].text)  # type: ignore[union-attr]
                assert body["task_id"] == "r1/draft" and body["state"] == "done"

                # Revoked mid-session: every call is refused from then on.
                owner = Board.open(db)
                try:
                    await owner.revoke_participant("w1")
                finally:
                    await owner.close()
                for tool in ("find_ready_tasks", "claim"):
                    text = await refused(writer, tool, {})
                    assert text.startswith("Unauthenticated: the token is not valid"), text

    anyio.run(main)
    assert_worked(db)


@pytest.mark.timeout(DEADLINE_S + 30)
@pytest.mark.parametrize(
    ("token", "said"),
    [
        (None, "baton mcp acts as a participant: put its token in BATON_TOKEN"),
        ("baton_pt_not-a-token-this-board-issued", "the token is not valid on this board"),
    ],
)
def test_stdio_refuses_to_start_without_a_good_token(
    tmp_path: Path, token: str | None, said: str
) -> None:
    db, _ = _board(tmp_path)
    stderr = tmp_path / "stderr.txt"

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S), open(stderr, "w") as errlog:
            # The SDK's task groups wrap the error: groups inside groups, one leaf.
            closed = pytest.RaisesExc(MCPError, match="Connection closed")
            with pytest.RaisesGroup(closed, flatten_subgroups=True):
                async with stdio_session(db, token, errlog):
                    pass  # pragma: no cover - initialize fails first

    anyio.run(main)
    assert f"error: {said}" in stderr.read_text()
    # And the process itself says so with the exit code of a bad request.
    run = subprocess.run(
        [sys.executable, "-m", "baton", "mcp", "--db", db],
        env={
            "PATH": os.environ.get("PATH", ""),
            **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ},
            **({"BATON_TOKEN": token} if token else {}),
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert run.returncode == 2 and said in run.stderr and run.stdout == ""


@pytest.mark.timeout(DEADLINE_S + 30)
@pytest.mark.parametrize("ending", ["stdin closed", "SIGTERM"])
def test_stdio_server_ends_when_its_client_closes_stdin_or_on_sigterm(
    tmp_path: Path, ending: str
) -> None:
    db, tokens = _board(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "mcp", "--db", db],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "BATON_TOKEN": tokens["w1"]},
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["result"]["serverInfo"]["name"] == "baton"
        if ending == "stdin closed":
            proc.stdin.close()
            assert proc.wait(timeout=DEADLINE_S) == 0
        else:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=DEADLINE_S) == -signal.SIGTERM
    finally:
        if proc.poll() is None:  # pragma: no cover - reported as the failure above
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# --- streamable HTTP: `baton serve` at /mcp -------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A real ``baton serve`` process on a free loopback port over the board file."""
    db, tokens = _board(tmp_path)
    proc, url = start_serve_process(db)
    try:
        yield db, url, tokens
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - reported as the failure
            proc.kill()
            proc.communicate()
            raise


@asynccontextmanager
async def http_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def test_http_an_agent_works_a_task_through_baton_serve(
    served: tuple[str, str, dict[str, str]],
) -> None:
    db, url, tokens = served

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S):
            async with (
                http_session(url, tokens["w1"]) as writer,
                http_session(url, tokens["critic"]) as reviewer,
            ):
                await work_the_draft(writer, reviewer)

    anyio.run(main)
    assert_worked(db)


MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def test_http_refuses_a_client_without_a_valid_bearer_token(
    served: tuple[str, str, dict[str, str]],
) -> None:
    _, url, tokens = served
    with httpx.Client(base_url=url, timeout=30) as raw:
        for auth in ({}, {"Authorization": "Bearer baton_pt_wrong"}, {"Authorization": "Basic x"}):
            r = raw.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **auth})
            assert r.status_code == 401, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["code"] == "Unauthenticated"

        # A session belongs to the participant that opened it: another one's token on
        # it is answered as if there were no such session.
        opened = raw.post(
            "/mcp",
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {tokens['w1']}"},
        )
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        other = {
            **MCP_HEADERS,
            "Authorization": f"Bearer {tokens['critic']}",
            "Mcp-Session-Id": session,
            "Mcp-Protocol-Version": "2025-06-18",
        }
        assert raw.post("/mcp", json=listing, headers=other).status_code == 404

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S):
            # The SDK's client does not say which status it got (the 401 is above).
            failed = pytest.RaisesExc(MCPError, match="Server returned an error response")
            with pytest.RaisesGroup(failed, flatten_subgroups=True):
                async with http_session(url, "baton_pt_wrong"):
                    pass  # pragma: no cover - initialize fails first

    anyio.run(main)


def test_http_a_coding_agents_trace_continues_into_baton_serve(tmp_path: Path) -> None:
    """A W3C traceparent sent with the MCP requests is continued by the door: the
    server's spans for them are children of the caller's span, in the caller's trace."""
    db, tokens = _board(tmp_path)
    spans_file = tmp_path / "server-spans.jsonl"
    proc, url = start_serve_process(db, env={"BATON_TRACE_FILE": str(spans_file)})
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {
        "Authorization": f"Bearer {tokens['w1']}",
        "traceparent": f"00-{trace_id}-{span_id}-01",
    }

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S):
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await session.list_tools()

    try:
        anyio.run(main)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    mine = [s for s in spans if s["context"]["trace_id"] == f"0x{trace_id}"]
    assert any(s["name"].startswith("POST /mcp") for s in mine), [s["name"] for s in spans]
    assert all(s["parent_id"] == f"0x{span_id}" for s in mine if s["name"].startswith("POST /mcp"))


@pytest.mark.timeout(DEADLINE_S + 30)
def test_stdio_a_coding_agents_trace_continues_through_meta(tmp_path: Path) -> None:
    """Over stdio there are no headers: a client's ``traceparent`` in a request's
    ``_meta`` is continued by ``baton mcp`` (the SDK's own server middleware does it, with
    the spans Baton's trace setup exports) — the tool call's span is the caller span's
    child, in the caller's trace; a call without one starts a trace of its own."""
    db, tokens = _board(tmp_path)
    spans_file = tmp_path / "mcp-spans.jsonl"
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

    async def main() -> None:
        with anyio.fail_after(DEADLINE_S), open(tmp_path / "stderr.txt", "w") as errlog:
            env = {"BATON_TRACE_FILE": str(spans_file)}
            async with stdio_session(db, tokens["w1"], errlog, env) as session:
                # RequestParamsMeta is an open TypedDict (extra_items=Any, PEP 728), which
                # mypy does not model yet: it takes the extra key for an unknown one.
                meta: RequestParamsMeta = {"traceparent": f"00-{trace_id}-{span_id}-01"}  # type: ignore[typeddict-unknown-key]
                await session.call_tool("find_ready_tasks", {}, meta=meta)
                failed = await session.call_tool("get_task", {"task_id": "r1/nope"}, meta=meta)
                assert failed.is_error
                await session.call_tool("find_ready_tasks", {})

    anyio.run(main)
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    calls = [s for s in spans if s["name"].startswith("tools/call")]
    names = [s["name"] for s in calls]
    assert names == [
        "tools/call find_ready_tasks",
        "tools/call get_task",
        "tools/call find_ready_tasks",
    ], names
    assert all(s["context"]["trace_id"] == f"0x{trace_id}" for s in calls[:2]), calls
    assert all(s["parent_id"] == f"0x{span_id}" for s in calls[:2]), calls
    assert calls[2]["context"]["trace_id"] != f"0x{trace_id}" and calls[2]["parent_id"] is None
