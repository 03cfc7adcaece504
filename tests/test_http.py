"""The HTTP door itself, spoken to as raw HTTP (httpx): authentication (401), grants
(403), invisible runs (404, no leak), problem+json bodies, bad input of every kind with
the store unchanged, Idempotency-Key, the body limit (413), OpenAPI, and the live event
stream (resume, exactly once across reconnects, bogus ``Last-Event-ID``, a seq from the
future, keep-alives). The Board's behaviour over HTTP is the conformance suite's
``http`` door; this file is about what only HTTP has."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from baton import SyncBoard, connect_sync
from baton.interfaces.http.server import ServeSettings
from tests.helpers import EVENT_TABLES, plan, task
from tests.http_door import OWNER_TOKEN, Door, served

PLAN: dict[str, Any] = {
    "goal": "ship",
    "roles": ["writer", "reviewer"],
    "tasks": [
        {"id": "draft", "role": "writer", "reviewer_role": "reviewer"},
        {"id": "publish", "role": "writer", "depends_on": ["draft"], "requires_approval": True},
    ],
}


@pytest.fixture
def door(store_url: str) -> Iterator[Door]:
    settings = ServeSettings(owner_token=OWNER_TOKEN, keepalive_s=0.5, max_body_bytes=50_000)
    with served(store_url, settings=settings) as d:
        yield d


@pytest.fixture
def owner(door: Door) -> Iterator[SyncBoard]:
    with connect_sync(door.url, door.owner_token) as b:
        yield b


def client(door: Door, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=door.url, headers=headers, timeout=30)


def state(owner: SyncBoard) -> dict[str, Any]:
    """The store without the event log (a refusal may add an access.denied event)."""
    return {k: v for k, v in owner.snapshot().items() if k not in EVENT_TABLES}


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(code) and body["title"] and body["detail"]
    return body


def test_no_token_a_bad_token_a_revoked_and_a_rotated_token_are_401(
    door: Door, owner: SyncBoard
) -> None:
    run = owner.create_run(PLAN, run_id="r1")
    before = owner.snapshot()
    with client(door, None) as anon:
        body = problem(anon.get(f"/runs/{run.id}"), 401, "Unauthenticated")
        assert "Bearer" in body["detail"]
        assert anon.get(f"/runs/{run.id}").headers["www-authenticate"].startswith("Bearer")
        assert anon.get("/health").status_code == 200  # liveness needs no token
    with client(door, "baton_pt_not-a-real-token") as bad:
        problem(bad.post("/claims", json={"roles": ["writer"]}), 401, "Unauthenticated")
    with client(door, "Basic abc") as odd:
        problem(odd.get("/runs"), 401, "Unauthenticated")
    assert owner.snapshot() == before

    _, old = owner.add_participant("alice", kind="agent", roles=["writer"], runs=["*"])
    with client(door, old) as alice:
        assert alice.get("/runs/r1").status_code == 200
        new = owner.rotate_token("alice")
        problem(alice.get("/runs/r1"), 401, "Unauthenticated")  # the old value, at once
    with client(door, new) as alice:
        assert alice.get("/runs/r1").status_code == 200
        owner.revoke_participant("alice")
        body = problem(alice.get("/runs/r1"), 401, "Unauthenticated")
        assert "revoked" in body["detail"]


def test_a_missing_grant_is_403_naming_who_what_and_why_and_is_audited(
    door: Door, owner: SyncBoard
) -> None:
    owner.create_run(PLAN, run_id="r1")
    _, token = owner.add_participant("bob", kind="agent", roles=["writer"], runs=["r1"])
    before, seq = state(owner), owner.last_seq()
    with client(door, token) as bob:
        body = problem(bob.post("/runs/r1/cancel", json={}), 403, "PermissionDenied")
    assert body["fields"]["participant"] == "bob" and body["fields"]["action"] == "cancel"
    assert "steer" in body["fields"]["missing"]
    assert state(owner) == before
    assert [e.kind for e in owner.events(since=seq)] == ["access.denied"]


def test_a_run_one_may_not_see_answers_exactly_as_a_run_that_does_not_exist(
    door: Door, owner: SyncBoard
) -> None:
    owner.create_run(PLAN, run_id="secret")
    _, token = owner.add_participant("eve", kind="agent", roles=["writer"], runs=["other"])
    with client(door, token) as eve:
        hidden = problem(eve.get("/runs/secret"), 404, "NotFound")
        missing = problem(eve.get("/runs/nosuch"), 404, "NotFound")
        assert hidden["detail"].replace("secret", "X") == missing["detail"].replace("nosuch", "X")
        assert set(hidden["fields"]) == set(missing["fields"]) == {"kind", "ident"}
        problem(eve.get("/tasks/secret/draft"), 404, "NotFound")
        problem(eve.get("/runs/secret/events"), 404, "NotFound")
        assert eve.get("/runs").json() == []


def test_self_approval_over_http_is_refused(door: Door, owner: SyncBoard) -> None:
    owner.create_run(PLAN, run_id="r1")
    _, token = owner.add_participant(
        "ann", kind="human", roles=["writer", "reviewer"], runs=["*"], grants=["approve"]
    )
    with client(door, token) as ann:
        lease = ann.post("/claims", json={"roles": ["writer"], "run_id": "r1"}).json()
        done = ann.post(
            f"/tasks/{lease['task']['id']}/submit", json={"token": lease["token"], "output": {}}
        ).json()
        assert done["state"] == "in_review" and done["worked_by"] == "ann"
        before = state(owner)
        body = problem(ann.post(f"/tasks/{done['id']}/approve", json={}), 403, "PermissionDenied")
        assert "own work" in body["detail"]
        assert state(owner) == before


BAD_REQUESTS = [
    pytest.param("POST", "/runs", b'{"plan": {', 400, "MalformedJSON", id="malformed-json"),
    pytest.param("POST", "/runs", b"[" * 5000, 400, "MalformedJSON", id="too-deep-json"),
    pytest.param("POST", "/runs", b'{"plan": 5}', 422, "InvalidArgument", id="wrong-type"),
    pytest.param("POST", "/runs", b'{"plan": {}, "x": 1}', 422, "InvalidArgument", id="unknown"),
    pytest.param("POST", "/runs", b'{"plan": {"goal": "g"}}', 422, "InvalidPlan", id="bad-plan"),
    pytest.param("POST", "/claims", b'{"roles": ["writer"], "lease_s": "5"}', 422,
                 "InvalidArgument", id="string-number"),
    pytest.param("POST", "/tasks/r1/nosuch/submit", b'{"token": 1}', 404, "NotFound",
                 id="unknown-task"),
    pytest.param("POST", "/tasks/r1/draft/submit", b'{"token": 1}', 409, "LeaseLost",
                 id="stale-token"),
    pytest.param("POST", "/tasks/r1/draft/submit", b'{"token": true}', 422, "InvalidArgument",
                 id="bool-token"),
    pytest.param("POST", "/tasks/r1/draft/submit-and-claim", b'{"token": 1}', 422,
                 "InvalidArgument", id="handoff-without-roles"),
    pytest.param("POST", "/tasks/r1/draft/submit-and-claim", b'{"token": 2, "roles": "writer"}',
                 409, "LeaseLost", id="handoff-stale-token"),
    pytest.param("POST", "/tasks/r1/draft/submit-and-claim",
                 b'{"token": 1, "participant": "w1", "roles": "writer", "run_id": "nope"}',
                 404, "NotFound", id="handoff-unknown-run"),
    pytest.param("POST", "/tasks/r1/publish/approve", b"{}", 409, "InvalidTransition",
                 id="invalid-transition"),
    pytest.param("GET", "/runs/r%01x", b"", 404, "NotFound", id="control-char-id"),
    pytest.param("GET", "/tasks/r1/a%00b", b"", 404, "NotFound", id="nul-in-id"),
    pytest.param("POST", "/runs/r1/nowhere", b"{}", 404, "NoSuchPath", id="no-such-endpoint"),
    pytest.param("GET", "/runs/r1/events?after=-1", b"", 422, "InvalidArgument",
                 id="negative-after"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD_REQUESTS)
def test_bad_input_is_the_right_4xx_with_a_problem_and_changes_nothing(
    door: Door, owner: SyncBoard, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    owner.create_run(PLAN, run_id="r1")
    assert owner.claim("w1", ["writer"]) is not None  # r1/draft is running, token 1
    before = owner.snapshot()
    with client(door, OWNER_TOKEN) as http:
        headers = {"Content-Type": "application/json"}
        r = http.request(method, path, content=body or None, headers=headers)
    problem(r, status, code)
    assert owner.snapshot() == before


def test_an_oversized_body_is_413_before_it_is_read(door: Door, owner: SyncBoard) -> None:
    before = owner.snapshot()
    big = json.dumps({"plan": {"goal": "x" * 60_000}}).encode()
    with client(door, OWNER_TOKEN) as http:
        body = problem(http.post("/runs", content=big), 413, "BodyTooLarge")
        assert body["fields"]["limit"] == 50_000

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 10_000

        problem(http.post("/runs", content=chunks()), 413, "BodyTooLarge")
    assert owner.snapshot() == before


def test_an_idempotency_key_header_replays_the_first_result(door: Door, owner: SyncBoard) -> None:
    with client(door, OWNER_TOKEN) as http:
        first = http.post("/runs", json={"plan": PLAN}, headers={"Idempotency-Key": "k1"})
        again = http.post("/runs", json={"plan": PLAN}, headers={"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        other = http.post(
            f"/runs/{first.json()['id']}/pause",
            json={"reason": "x"},
            headers={"Idempotency-Key": "k1"},
        )
        problem(other, 409, "IdempotencyConflict")
    assert len(owner.list_runs()) == 1


def test_the_openapi_document_types_every_body_and_response(door: Door) -> None:
    with client(door, None) as http:
        spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/runs", "/claims", "/tasks/{task_id}/submit", "/runs/{run_id}/events"):
        assert path in paths, sorted(paths)
    schemas = spec["components"]["schemas"]
    for name in ("Task", "Run", "Lease", "Event", "Participant", "Submit", "ClaimRequest"):
        assert name in schemas
    submit = paths["/tasks/{task_id}/submit"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("Submit")
    assert submit["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "Task"
    )


# --- the live event stream -------------------------------------------------------------


def read_sse(response: httpx.Response, limit: int) -> Iterator[tuple[str, str | None]]:
    """``(kind, id)`` of each frame (``("comment", None)`` for a comment line)."""
    frame: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield ("comment", None)
        elif line == "":
            if "data" in frame:
                yield (frame.get("event", "message"), frame.get("id"))
                limit -= 1
                if limit <= 0:
                    return
            frame = {}
        else:
            name, _, value = line.partition(":")
            frame[name] = value.strip()


SSE = {"Accept": "text/event-stream"}


def test_a_client_that_disconnects_every_few_events_sees_each_once_in_order(
    door: Door, owner: SyncBoard
) -> None:
    run = owner.create_run(plan(*(task(f"t{i:03d}") for i in range(300))))
    total_wanted = 1_000

    def write_more() -> None:  # events keep arriving while the client reconnects
        with connect_sync(door.url, door.owner_token) as writer:
            for i in range(total_wanted - 301):
                writer.post_message(run.id, "note", {"text": f"n{i}"}, sender="w")

    writer = threading.Thread(target=write_more)
    writer.start()
    seen: list[int] = []
    reconnects = 0
    with client(door, OWNER_TOKEN) as http:
        while len(seen) < total_wanted:
            headers = dict(SSE)
            if seen:
                headers["Last-Event-ID"] = str(seen[-1])
            with http.stream("GET", f"/runs/{run.id}/events", headers=headers) as r:
                assert r.status_code == 200
                for kind, ident in read_sse(r, limit=7):
                    if kind != "comment":
                        assert ident is not None
                        seen.append(int(ident))
                        if len(seen) == total_wanted:
                            break
            reconnects += 1
    writer.join(60)
    assert seen == list(range(1, total_wanted + 1))  # every event, once, in order
    assert reconnects >= total_wanted // 7


def test_a_bogus_last_event_id_is_400_and_a_future_one_waits(door: Door, owner: SyncBoard) -> None:
    run = owner.create_run(plan(task("a")))
    head = owner.last_seq()
    with client(door, OWNER_TOKEN) as http:
        for bogus in ("abc", "-3", "1e9", "9" * 30):
            r = http.get(f"/runs/{run.id}/events", headers={**SSE, "Last-Event-ID": bogus})
            problem(r, 400, "UsageError")
        future = head + 3
        with http.stream(
            "GET", f"/runs/{run.id}/events", headers={**SSE, "Last-Event-ID": str(future)}
        ) as r:
            frames = read_sse(r, limit=2)
            for i in range(5):
                owner.post_message(run.id, "note", {"text": str(i)}, sender="w")
            got = [ident for kind, ident in frames if kind != "comment"]
    assert got == [str(future + 1), str(future + 2)]


def test_an_idle_stream_sends_keep_alives_and_filters_apply(door: Door, owner: SyncBoard) -> None:
    run = owner.create_run(plan(task("a"), task("b")))
    b_created = [e.seq for e in owner.events(run.id) if e.task_id == f"{run.id}/b"]
    with client(door, OWNER_TOKEN) as http:
        frames: list[tuple[str, str | None]] = []
        url = f"/runs/{run.id}/events?kind=task.&task={run.id}/b"
        with http.stream("GET", url, headers=SSE) as r:
            for frame in read_sse(r, limit=100):
                frames.append(frame)
                if frames[1:].count(("comment", None)) >= 2:  # keep-alives while idle
                    break
        data = [f for f in frames if f[0] != "comment"]
        assert data == [("task.created", str(b_created[0]))]
        page = http.get(f"/runs/{run.id}/events", params={"kind": "task.", "after": 0}).json()
        assert [e["kind"] for e in page] == ["task.created", "task.created"]
        cursor = http.get(f"/runs/{run.id}/events", params={"kind": "nothing.", "after": 0})
        assert cursor.json() == [] and int(cursor.headers["baton-cursor"]) == owner.last_seq()


def test_a_remote_board_follows_a_run_with_subscribe(door: Door, owner: SyncBoard) -> None:
    run = owner.create_run(plan(task("a")))
    lease = owner.claim("w1", ["worker"])
    assert lease is not None
    owner.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    kinds = [e.kind for e in owner.subscribe(run_id=run.id, idle_timeout=0.5)]
    assert kinds[0] == "run.created" and "run.finished" in kinds
    assert owner.wait_ended(run.id, timeout=5).state.value == "finished"
