"""The web board's door over plain HTTP (a real ``baton serve`` on loopback, httpx as
the client): signing in and out, CSRF, and every bad input answered with a clear page
and the store untouched. The browser tests (test_web_browser.py) cover the rest."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from baton import ArtifactConflict, SyncBoard
from tests.helpers import EVENT_TABLES
from tests.http_door import served

PLAN = {"goal": "g", "roles": ["writer"], "tasks": [{"id": "a", "role": "writer"}]}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, SyncBoard, str, str]]:
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as owner:
        _, lead = owner.add_participant(
            "lead", kind="human", runs=["*"], grants=["steer", "create_runs", "approve"]
        )
        _, viewer = owner.add_participant("viewer", kind="human", runs=["*"])
        with served(db) as door:
            yield door.url, owner, lead, viewer


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    opened: list[httpx.Client] = []
    yield opened
    for c in opened:
        c.close()


def client_for(url: str, opened: list[httpx.Client]) -> httpx.Client:
    opened.append(httpx.Client(base_url=url))
    return opened[-1]


def signed_in(url: str, token: str, opened: list[httpx.Client]) -> tuple[httpx.Client, str]:
    client = client_for(url, opened)
    form = client.get("/ui/login")
    guard = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert guard is not None
    done = client.post("/ui/login", data={"csrf": guard.group(1), "token": token})
    assert done.status_code == 303, done.text
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_pages_need_a_session_and_a_wrong_token_is_refused(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, _, lead, _ = site
    client = client_for(url, clients)
    assert client.get("/").status_code == 303
    assert client.get("/").headers["location"] == "/ui/login?next=/"
    assert client.get("/ui/inbox?fragment=1").status_code == 401
    form = client.get("/ui/login")
    guard = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert guard is not None
    bad = client.post("/ui/login", data={"csrf": guard.group(1), "token": "baton_pt_nope"})
    assert bad.status_code == 401 and "not valid" in bad.text
    # a sign-in form posted without its own guard (login CSRF) is refused
    fresh = client_for(url, clients)
    assert fresh.post("/ui/login", data={"token": lead}).status_code == 403


def test_the_session_cookie_is_httponly_and_strict_and_sign_out_ends_it(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, _, lead, _ = site
    client = client_for(url, clients)
    guard = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/login").text)
    assert guard is not None
    done = client.post("/ui/login", data={"csrf": guard.group(1), "token": lead})
    cookie = [
        v for k, v in done.headers.multi_items() if k == "set-cookie" and "baton_session" in v
    ]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=strict" in cookie[0]
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf is not None
    assert client.post("/ui/logout", data={"csrf": csrf.group(1)}).status_code == 303
    assert client.get("/").status_code == 303  # signed out: back to the sign-in form


def test_revoking_the_token_ends_the_session(site: tuple, clients: list[httpx.Client]) -> None:
    url, owner, lead, _ = site
    client, _ = signed_in(url, lead, clients)
    owner.revoke_participant("lead")
    assert client.get("/").status_code == 303


def test_bad_inputs_get_a_clear_page_and_change_nothing(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, owner, lead, viewer = site
    run = owner.create_run(PLAN)
    client, csrf = signed_in(url, lead, clients)
    before = owner.snapshot()
    missing = client.get("/ui/runs/r-nope")
    assert missing.status_code == 404 and "r-nope" in missing.text
    assert "text/html" in missing.headers["content-type"]
    empty = client.post(f"/ui/tasks/{run.id}/a/reject", data={"csrf": csrf, "feedback": " "})
    assert empty.status_code == 422 and "feedback" in empty.text
    wrong_state = client.post(f"/ui/tasks/{run.id}/a/approve", data={"csrf": csrf})
    assert wrong_state.status_code == 409
    broken = client.post(
        "/ui/runs", data={"csrf": csrf},
        files={"plan": ("plan.yaml", b"goal: g\nroles: [w]\ntasks: [{id: a, role: nobody}]")},
    )  # fmt: skip
    assert broken.status_code == 422 and "nobody" in broken.text
    not_yaml = client.post(
        "/ui/runs", data={"csrf": csrf}, files={"plan": ("plan.yaml", b"goal: [unclosed")}
    )
    assert not_yaml.status_code == 422 and "plan.yaml" in not_yaml.text
    wrong_kind = client.post("/ui/runs", data={"csrf": csrf}, files={"plan": ("plan.txt", b"{}")})
    assert wrong_kind.status_code == 422
    huge = client.post(
        "/ui/runs", data={"csrf": csrf}, files={"plan": ("p.json", b"x" * 3_000_000)}
    )
    assert huge.status_code == 413
    bad_task = client.post(
        f"/ui/runs/{run.id}/tasks", data={"csrf": csrf, "id": "b", "role": "writer",
                                          "depends_on": "ghost"},
    )  # fmt: skip
    assert bad_task.status_code == 422 and "ghost" in bad_task.text
    assert owner.snapshot() == before
    # a viewer without grants: the Board refuses, whatever the form says
    other, other_csrf = signed_in(url, viewer, clients)
    refused = other.post(f"/ui/runs/{run.id}/cancel", data={"csrf": other_csrf})
    assert refused.status_code == 403 and "steer" in refused.text
    after = owner.snapshot()
    assert {k: v for k, v in after.items() if k not in EVENT_TABLES} == {
        k: v for k, v in before.items() if k not in EVENT_TABLES
    }
    new = [row for row in after["events"] if row not in before["events"]]
    assert [row[3] for row in new] == ["access.denied"]  # the refusal is on record, only it


def test_a_run_from_an_uploaded_plan_and_a_double_submit_makes_one_run(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, owner, lead, _ = site
    client, csrf = signed_in(url, lead, clients)
    data = {"csrf": csrf, "idem": "form-1"}
    files = {"plan": ("plan.json", b'{"goal": "up", "roles": ["writer"], "tasks": '
                                   b'[{"id": "a", "role": "writer"}]}')}  # fmt: skip
    first = client.post("/ui/runs", data=data, files=files)
    again = client.post("/ui/runs", data=data, files=files)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert [r.goal for r in owner.list_runs()] == ["up"]
    page = client.get(first.headers["location"])
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers


def test_steering_from_forms_goes_through_the_board(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, owner, lead, _ = site
    run = owner.create_run(PLAN)
    client, csrf = signed_in(url, lead, clients)
    paused = client.post(f"/ui/runs/{run.id}/pause", data={"csrf": csrf, "reason": "lunch"})
    assert paused.status_code == 303 and paused.headers["location"] == f"/ui/runs/{run.id}"
    assert owner.get_run(run.id).paused_reason == "lunch"
    assert client.post(f"/ui/runs/{run.id}/resume", data={"csrf": csrf}).status_code == 303
    assert owner.get_run(run.id).state.value == "active"
    added = client.post(
        f"/ui/runs/{run.id}/tasks",
        data={"csrf": csrf, "id": "b", "title": "Second", "role": "writer", "depends_on": "a",
              "requires_approval": "on"},
    )  # fmt: skip
    assert added.status_code == 303
    b = owner.get_task(f"{run.id}/b")
    assert b.title == "Second" and b.depends_on == [f"{run.id}/a"] and b.requires_approval
    goal = client.post(
        "/ui/runs", data={"csrf": csrf, "goal": "Write a post", "roles": "planner, writer"}
    )
    assert goal.status_code == 303
    created = next(r for r in owner.list_runs() if r.goal == "Write a post")
    assert created.created_by == "lead" and created.roles == ["planner", "writer"]
    assert client.post(f"/ui/runs/{run.id}/cancel", data={"csrf": csrf}).status_code == 303
    assert owner.get_run(run.id).state.value == "cancelled"
    events = [e for e in owner.events(run.id) if e.kind.startswith("run.")]
    assert {e.actor for e in events if e.kind != "run.created"} == {"lead"}


def test_an_open_stream_ends_when_its_session_signs_out(
    site: tuple, clients: list[httpx.Client]
) -> None:
    url, owner, lead, _ = site
    run = owner.create_run(PLAN)
    client, csrf = signed_in(url, lead, clients)
    other = client_for(url, clients)
    other.cookies = client.cookies
    with client.stream("GET", f"/ui/runs/{run.id}/live", timeout=10) as live:
        assert live.status_code == 200
        chunks = live.iter_bytes()
        assert b"baton event stream" in next(chunks)
        assert other.post("/ui/logout", data={"csrf": csrf}).status_code == 303
        started = time.monotonic()
        b"".join(chunks)  # the stream ends at its next keep-alive (1 s in the test server)
    assert time.monotonic() - started < 5
    again = client.get(f"/ui/runs/{run.id}/live", headers={"Accept": "text/event-stream"})
    assert again.status_code == 401


def test_the_task_page_shows_artifacts_and_reservations_and_the_inbox_a_conflict(
    site: tuple, clients: list[httpx.Client]
) -> None:
    """What the Board lets each person read: lead (approve) sees a task's private
    artifacts; a viewer without approve, steer or context sees none. An escalated
    artifact conflict reaches the inbox of people who answer."""
    url, owner, lead, viewer = site
    _, answerer = owner.add_participant("ann", kind="human", runs=["*"], grants=["answer"])
    run = owner.create_run(PLAN)
    lease = owner.claim("w1", ["writer"])
    assert lease is not None
    owner.write_artifact(run.id, "draft.md", "first draft\n", scope=lease.task.id)
    owner.write_artifact(run.id, "draft.md", "<b>second</b> draft\n", base=1, scope=lease.task.id)
    owner.reserve(lease.task.id, lease.token, ["src/api/**"], participant="w1")
    owner.write_artifact(run.id, "decision.md", "use sqlite\n", strategy="escalate")
    owner.write_artifact(run.id, "decision.md", "use postgres\n", base=1)
    with pytest.raises(ArtifactConflict, match="a human was asked"):
        owner.write_artifact(run.id, "decision.md", "use mysql\n", base=1)
    client, _ = signed_in(url, lead, clients)
    page = client.get(f"/ui/tasks/{lease.task.id}")
    assert page.status_code == 200
    assert "draft.md" in page.text and "version 2" in page.text
    assert "&lt;b&gt;second&lt;/b&gt; draft" in page.text  # shown, inert
    assert "src/api/**" in page.text and "fencing #1" in page.text
    outsider, _ = signed_in(url, viewer, clients)
    hidden = outsider.get(f"/ui/tasks/{lease.task.id}")
    assert hidden.status_code == 200 and "draft.md" not in hidden.text
    inbox_client, _ = signed_in(url, answerer, clients)
    inbox = inbox_client.get("/ui/inbox")
    assert "decision.md" in inbox.text and "conflict" in inbox.text
