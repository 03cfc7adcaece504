"""The web board in a real browser: Debian's Chromium driven by Playwright against a
real ``baton serve`` on loopback. Agents act through the Board (as participants on
their own tokens); people act by clicking. Every wait is on a condition with a
timeout, never a sleep."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baton import SyncBoard
from tests.http_door import served
from tests.web_browser import CuttableProxy, OffThread, chromium, sign_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHOTS = Path(os.environ.get("BATON_SCREENSHOTS", "build/screenshots"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@dataclass
class Team:
    url: str
    port: int
    owner: Any  # the store's owner (an OffThread SyncBoard)
    lead: str  # tokens
    viewer: str
    worker: Any  # the agent w1, on its own token
    db: str = ""
    w1: str = ""  # w1's token


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    db = str(tmp_path / "board.db")
    owner = OffThread(lambda: SyncBoard.open(db))
    try:
        _, lead = owner.add_participant(
            "lead", kind="human", roles=["reviewer"], runs=["*"],
            grants=["approve", "steer", "answer", "create_runs"],
        )  # fmt: skip
        _, viewer = owner.add_participant("viewer", kind="human", runs=["*"])
        _, w1 = owner.add_participant("w1", kind="agent", roles=["writer"], runs=["*"])
        with served(db) as door:
            worker = owner.login(w1)
            port = int(door.url.rsplit(":", 1)[1])
            yield Team(door.url, port, owner, lead, viewer, worker, db, w1)
    finally:
        owner.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def plan(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"goal": "ship it", "roles": ["writer", "reviewer"], "tasks": list(tasks)}


def at_the_gate(team: Team) -> tuple[Any, Any]:
    """A run of one task, worked by w1 and waiting at its human approval gate."""
    run = team.owner.create_run(
        plan({"id": "a", "title": "Gate", "role": "writer", "requires_approval": True})
    )
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    team.worker.submit(lease.task_id, lease.token, {"text": "x"}, participant="w1")
    return run, lease


def card(page: Any, column: str, task_id: str) -> Any:
    return page.locator(f'[data-column~="{column}"] [data-task="{task_id}"]')


def test_an_agents_claim_and_submit_move_the_card_live(team: Team, page: Any) -> None:
    run = team.owner.create_run(plan({"id": "a", "title": "Write", "role": "writer"}))
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/runs/{run.id}")
    from playwright.sync_api import expect

    expect(card(page, "ready", f"{run.id}/a")).to_be_visible()
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    started = time.monotonic()
    expect(card(page, "running", lease.task_id)).to_be_visible(timeout=1000)
    expect(card(page, "running", lease.task_id)).to_contain_text("w1")
    team.worker.submit(lease.task_id, lease.token, {"text": "done"}, participant="w1")
    expect(card(page, "done", lease.task_id)).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 3
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload


def test_approving_in_the_browser_releases_the_gate_and_a_worker_finishes(
    team: Team, page: Any
) -> None:
    run = team.owner.create_run(
        plan(
            {"id": "a", "title": "Draft", "role": "writer", "requires_approval": True},
            {"id": "b", "title": "Publish", "role": "writer", "depends_on": ["a"]},
        )
    )
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    team.worker.submit(lease.task_id, lease.token, {"text": "draft"}, participant="w1")
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/inbox")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve a").click()
    assert team.owner.get_task(f"{run.id}/a").state.value == "done"
    follow = team.worker.claim("w1", ["writer"])
    assert follow is not None and follow.task_id == f"{run.id}/b"
    team.worker.submit(follow.task_id, follow.token, {"text": "live"}, participant="w1")
    assert team.owner.get_run(run.id).state.value == "finished"
    events = team.owner.events(run.id)
    approvals = [e for e in events if e.kind == "task.approve"]
    assert [e.actor for e in approvals] == ["lead"]


def test_a_reject_with_feedback_returns_the_task_to_its_agent(team: Team, page: Any) -> None:
    run = team.owner.create_run(
        plan({"id": "a", "title": "Essay", "role": "writer", "reviewer_role": "reviewer"})
    )
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    team.worker.submit(lease.task_id, lease.token, {"text": "v1"}, participant="w1")
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/inbox")
    page.get_by_label("Feedback (one issue per line)").fill("Cite your sources\nShorter intro")
    with page.expect_navigation():
        page.get_by_role("button", name="Reject a").click()
    page.goto(f"{team.url}/ui/tasks/{run.id}/a")
    from playwright.sync_api import expect

    expect(page.locator(".feedback")).to_contain_text("Cite your sources")
    again = team.worker.claim("w1", ["writer"])
    assert again is not None and again.task_id == lease.task_id
    assert again.task.feedback[-1]["items"] == ["Cite your sources", "Shorter intro"]


def test_an_escalation_answered_in_the_browser_reaches_the_task(team: Team, page: Any) -> None:
    run = team.owner.create_run(plan({"id": "a", "title": "Pick", "role": "writer"}))
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    asked = team.worker.escalate(
        run.id, "agent", "Blue or green?", task_id=lease.task_id, actor="w1"
    )
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/inbox")
    from playwright.sync_api import expect

    expect(page.locator(".question")).to_have_text("Blue or green?")
    page.get_by_label("Your answer").fill("Green")
    with page.expect_navigation():
        page.get_by_role("button", name="Answer").click()
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
    answers = [m for m in team.worker.messages(run.id) if m.kind == "message.answer"]
    assert len(answers) == 1
    assert answers[0].task_id == lease.task_id and answers[0].actor == "lead"
    assert answers[0].payload["body"] == {"question_seq": asked.seq, "answer": "Green"}
    assert answers[0].payload["to"] == "w1"


def test_a_read_only_person_sees_no_buttons_and_a_forged_post_is_refused(
    team: Team, page: Any
) -> None:
    run, _ = at_the_gate(team)
    sign_in(page, team.url, team.viewer)
    for path in ("/", f"/ui/runs/{run.id}", f"/ui/tasks/{run.id}/a", "/ui/inbox"):
        page.goto(team.url + path)
        assert page.locator("main button, main input[type=submit]").count() == 0, path
    before = team.owner.snapshot()
    forged = page.request.post(f"{team.url}/ui/runs/{run.id}/cancel", form={"reason": "x"})
    assert forged.status == 403 and "CSRF" in forged.text()
    # a lead's session, a post from another origin: refused too
    sign_in(page, team.url, team.lead)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    cross = page.request.post(
        f"{team.url}/ui/runs/{run.id}/cancel",
        form={"csrf": csrf, "reason": "x"},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status == 403
    # the viewer's real token through a real form: the Board refuses (no grant)
    assert team.owner.snapshot() == before
    assert team.owner.get_run(run.id).state.value == "active"


def test_html_in_titles_and_outputs_renders_as_text(team: Team, page: Any) -> None:
    evil = "<script>window.pwned=1</script><b>bold</b>"
    run = team.owner.create_run(plan({"id": "a", "title": evil, "role": "writer"}))
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    team.worker.submit(
        lease.task_id, lease.token, {"html": "<img src=x onerror=window.pwned=2>"},
        participant="w1",
    )  # fmt: skip
    sign_in(page, team.url, team.lead)
    for path in (f"/ui/runs/{run.id}", f"/ui/tasks/{run.id}/a", f"/ui/runs/{run.id}/graph"):
        page.goto(team.url + path)
        assert page.evaluate("window.pwned") is None
        assert page.locator("main img, main b").count() == 0
    page.goto(f"{team.url}/ui/tasks/{run.id}/a")
    assert "<script>window.pwned=1</script>" in page.locator("h1").inner_text()
    assert "onerror" in page.locator(".output").inner_text()
    response = page.request.get(f"{team.url}/ui/tasks/{run.id}/a")
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_dropped_stream_resumes_with_no_event_missing_or_doubled(team: Team, page: Any) -> None:
    run = team.owner.create_run(
        plan(*({"id": f"t{i}", "role": "writer"} for i in range(6)))
    )  # fmt: skip
    proxy = CuttableProxy(team.port)
    try:
        sign_in(page, proxy.url, team.lead)
        page.goto(f"{proxy.url}/ui/runs/{run.id}")
        page.wait_for_function("() => window.batonStream && window.batonStream.readyState === 1")
        start = team.owner.events(run.id)[-1].seq
        first = team.worker.claim("w1", ["writer"])
        assert first is not None
        team.worker.submit(first.task_id, first.token, {}, participant="w1")
        page.wait_for_function("() => document.querySelectorAll('#activity li').length >= 2")
        proxy.cut()
        page.wait_for_function("() => window.batonStream.readyState !== 1")
        for _ in range(3):  # the board moves on while the browser is cut off
            lease = team.worker.claim("w1", ["writer"])
            assert lease is not None
            team.worker.submit(lease.task_id, lease.token, {}, participant="w1")
        proxy.restore()
        expected = [e.seq for e in team.owner.events(run.id) if e.seq > start]
        page.wait_for_function(
            f"() => document.querySelectorAll('#activity li').length >= {len(expected)}",
            timeout=15000,
        )
        shown = page.eval_on_selector_all(
            "#activity li", "items => items.map(li => Number(li.dataset.seq))"
        )
        assert sorted(shown) == expected  # each event once, none missing
        from playwright.sync_api import expect

        expect(page.locator('[data-column~="done"] li')).to_have_count(4, timeout=5000)
    finally:
        proxy.close()


def test_every_view_passes_axe_and_screenshots_are_written(team: Team, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    run = team.owner.create_run(
        plan(
            {"id": "draft", "title": "Draft the post", "role": "writer",
             "reviewer_role": "reviewer"},
            {"id": "edit", "title": "Edit", "role": "writer", "depends_on": ["draft"]},
            {"id": "publish", "title": "Publish", "role": "writer", "depends_on": ["edit"],
             "requires_approval": True},
        )
    )  # fmt: skip
    lease = team.worker.claim("w1", ["writer"])
    assert lease is not None
    team.worker.record_usage(
        lease.task_id, model="offline", input_tokens=120, output_tokens=80, cost_usd=0.002,
        actor="w1", role="writer",
    )  # fmt: skip
    team.worker.submit(lease.task_id, lease.token, {"text": "v1"}, participant="w1")
    team.worker.escalate(run.id, "agent", "Which audience?", task_id=lease.task_id, actor="w1")
    views = {
        "runs": "/",
        "board": f"/ui/runs/{run.id}",
        "graph": f"/ui/runs/{run.id}/graph",
        "timeline": f"/ui/runs/{run.id}/timeline",
        "costs": f"/ui/runs/{run.id}/costs",
        "task": f"/ui/tasks/{run.id}/draft",
        "inbox": "/ui/inbox",
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    for width, height in ((1280, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, team.url, team.lead)
        for name, path in views.items():
            page.goto(team.url + path)
            results = axe.run(page)
            bad = [
                (v["id"], v["impact"], v["help"])
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert not bad, f"{name} at {width}px: {bad}"
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=width == 1280)
            if name in ("runs", "task", "inbox", "costs"):
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= width + 1, f"{name} scrolls sideways at {width}px"
        page.goto(team.url + "/ui/login")
        assert axe.run(page).response["violations"] == [] or all(
            v["impact"] not in ("serious", "critical") for v in axe.run(page).response["violations"]
        )
        context.close()


def test_every_action_is_reachable_by_keyboard(team: Team, page: Any) -> None:
    run, _ = at_the_gate(team)
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/tasks/{run.id}/a")
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        if focused == "Approve a":
            break
    else:
        pytest.fail("Tab never reached the Approve button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert team.owner.get_task(f"{run.id}/a").state.value == "done"


def test_new_runs_appear_live_on_the_runs_page(team: Team, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, team.url, team.lead)
    expect(page.get_by_text("No runs you may see yet.")).to_be_visible()
    page.wait_for_function("() => window.batonStream?.readyState === 1")
    run = team.owner.create_run(plan({"id": "a", "role": "writer"}))
    expect(page.locator(f'tr[data-run="{run.id}"]')).to_contain_text("active", timeout=2000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_a_change_made_in_one_browser_shows_on_every_open_board(team: Team, browser: Any) -> None:
    from playwright.sync_api import expect

    run, lease = at_the_gate(team)
    watchers = []
    for token in (team.viewer, team.lead):
        context = browser.new_context()
        watcher = context.new_page()
        sign_in(watcher, team.url, token)
        watcher.goto(f"{team.url}/ui/runs/{run.id}")
        watcher.wait_for_function("() => window.batonStream?.readyState === 1")
        expect(card(watcher, "awaiting_approval", lease.task_id)).to_be_visible()
        watchers.append((context, watcher))
    actor = browser.new_context().new_page()
    sign_in(actor, team.url, team.lead)
    actor.goto(f"{team.url}/ui/tasks/{lease.task_id}")
    with actor.expect_navigation():
        actor.get_by_role("button", name="Approve a").click()
    for _, watcher in watchers:
        expect(card(watcher, "done", lease.task_id)).to_be_visible(timeout=1000)
    for context, _ in watchers:
        context.close()
    actor.context.close()


def test_an_agent_waiting_on_a_question_gets_the_answer_typed_in_the_browser(
    team: Team, page: Any
) -> None:
    """The documented Worker runs an agent that asks a human (ctx.ask_human) and holds
    its task; the answer typed in the inbox reaches it and becomes the task's output."""
    import asyncio
    import threading

    from playwright.sync_api import expect

    from baton import Board, Worker

    run = team.owner.create_run(plan({"id": "pick", "title": "Pick", "role": "writer"}))

    async def picker(ctx: Any) -> dict[str, Any]:
        return {"colour": await ctx.ask_human("Blue or green?", timeout_s=30)}

    async def work() -> None:
        board = await Board.open(team.db).login(team.w1)
        try:
            await Worker(board, {"writer": picker}, name="w1", watchdog=False).run(run_id=run.id)
        finally:
            await board.close()

    worker = threading.Thread(target=lambda: asyncio.run(work()), daemon=True)
    worker.start()
    sign_in(page, team.url, team.lead)
    page.goto(f"{team.url}/ui/inbox")
    expect(page.locator(".question")).to_have_text("Blue or green?", timeout=10_000)
    page.get_by_label("Your answer").fill("Green")
    with page.expect_navigation():
        page.get_by_role("button", name="Answer").click()
    worker.join(30)
    assert not worker.is_alive()
    done = team.owner.get_task(f"{run.id}/pick")
    assert done.state.value == "done" and done.output == {"colour": "Green"}
