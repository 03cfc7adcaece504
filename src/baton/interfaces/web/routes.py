"""The web board's routes, mounted on ``baton serve``'s app: pages at ``/`` and
``/ui/…``, their live fragments, two event streams, and the form actions.

A door: each request finds its session, acts on the Board as the session's participant
(:meth:`Principals.board_for`), and renders what the Board answered. Writes are plain
HTML forms (they work without JavaScript and from the keyboard), each carrying the
session's CSRF token and an idempotency key, answered by a redirect back (303).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from baton.board import Board
from baton.interfaces.http import events
from baton.interfaces.http.problems import problem
from baton.interfaces.web import pages
from baton.interfaces.web.sessions import COOKIE, LOGIN_COOKIE, Session, Sessions, same_secret
from baton.model import Task, TaskState
from baton.model.errors import (
    BatonError,
    InvalidArgument,
    Unauthenticated,
)
from baton.model.participants import Principal
from baton.planning.files import parse_plan_file
from baton.views.dependency_graph import NODE_H, NODE_W, layout
from baton.views.narration import narrate
from baton.views.timeline import timeline, work_seconds

HERE = Path(__file__).parent
_TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
#: The page's Content-Security-Policy: only this origin's scripts, styles and
#: connections; no inline script or style, no framing, forms post only here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SignIn(Exception):
    """No live session: pages redirect to the sign-in form, other calls answer 401."""


def is_web(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


@dataclass
class Viewer:
    board: Board
    who: Principal
    session: Session
    can: pages.Can


def _signed_in(request: Request, session: Session) -> Callable[[], bool]:
    """Whether the stream's session is still live (not signed out, not expired): a
    stream ends at the next event or keep-alive after its session does."""
    sessions: Sessions = request.app.state.web_sessions
    return lambda: sessions.find(session.id) is session


def _safe_next(value: object, default: str = "/") -> str:
    text = str(value or "")
    return (
        text if text.startswith("/") and not text.startswith("//") and "\\" not in text else default
    )


def _idem(form: FormData) -> str | None:
    key = str(form.get("idem") or "")
    return f"web:{key}" if key else None


def _commas(text: object) -> list[str]:
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def _lines(text: object) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


async def viewer(request: Request) -> Viewer:
    """The request's session and the Board acting as its participant (or :class:`SignIn`)."""
    sessions: Sessions = request.app.state.web_sessions
    session = sessions.find(request.cookies.get(COOKIE))
    if session is None:
        raise SignIn()
    try:
        # Looked up afresh (one read): the buttons a page shows follow grants changed
        # since sign-in, not only the Board's refusals.
        board: Board = await request.app.state.principals.board_for(session.token, fresh=True)
    except BatonError:
        sessions.end(session.id)
        raise SignIn() from None
    who = board.principal
    return Viewer(board, who, session, pages.Can(who))


Seen = Annotated[Viewer, Depends(viewer)]


def mount(app: FastAPI, principals: Any, *, keepalive_s: float) -> None:
    """Add the web board to ``app`` (``principals`` turns a token into the Board acting
    as its participant, as for the JSON API)."""
    templates = _TEMPLATES
    env = templates.env
    env.globals.update(columns=pages.COLUMNS, age=_age, node_w=NODE_W, node_h=NODE_H)
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["q"] = lambda v: quote(str(v), safe="/")
    sessions = Sessions()
    app.state.web_sessions = sessions
    app.mount("/ui/static", StaticFiles(directory=str(HERE / "static")), name="web-static")
    router = APIRouter(include_in_schema=False)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        viewer: Viewer | None = context.get("viewer")
        context.setdefault("csrf", viewer.session.csrf if viewer else "")
        context["idem"] = lambda: uuid.uuid4().hex
        context["now"] = viewer.board.clock() if viewer else 0.0
        fragment = request.query_params.get("fragment") == "1"
        template = f"parts/{name}" if fragment else name
        response = templates.TemplateResponse(request, template, context, status_code=status)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def writer(request: Request) -> tuple[Viewer, FormData]:
        """A write: a live session, a same-origin request, the session's CSRF token."""
        v = await viewer(request)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise FormRefused(f"cross-origin form post from {origin} refused")
        form = await request.form()
        request.state.form = form  # closed (uploads and all) when the response is sent
        if not same_secret(str(form.get("csrf") or ""), v.session.csrf):
            raise FormRefused("the form's CSRF token is missing or wrong; reload the page")
        return v, form

    def back(form: FormData, default: str) -> Response:
        return RedirectResponse(_safe_next(form.get("next"), default), status_code=303)

    # -- signing in and out --------------------------------------------------------------
    def login_page(request: Request, nxt: str, error: str | None, status: int = 200) -> Response:
        """The sign-in form, with a fresh double-submit guard in a cookie and the form."""
        guard = uuid.uuid4().hex
        response = render(request, "login.html", status, csrf=guard, next=nxt, error=error)
        response.set_cookie(LOGIN_COOKIE, guard, httponly=True, samesite="strict", path="/ui/")
        return response

    @router.get("/ui/login")
    async def login_form(request: Request, next: str = "/") -> Response:
        return login_page(request, _safe_next(next), None)

    @router.post("/ui/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        nxt = _safe_next(form.get("next"))
        if not same_secret(str(form.get("csrf") or ""), request.cookies.get(LOGIN_COOKIE) or "-"):
            raise FormRefused("the sign-in form expired; reload it and sign in again")
        token = str(form.get("token") or "").strip()
        try:
            await principals.board_for(token, fresh=True)
        except BatonError:
            error = "That token is not valid (unknown, rotated or revoked)."
            return login_page(request, nxt, error, 401)
        session = sessions.start(token)
        response = RedirectResponse(nxt, status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(
            COOKIE, session.id, httponly=True, samesite="strict", secure=secure, path="/"
        )
        response.delete_cookie(LOGIN_COOKIE, path="/ui/")
        return response

    @router.post("/ui/logout")
    async def logout(request: Request) -> Response:
        v, _ = await writer(request)
        sessions.end(v.session.id)
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------
    @router.get("/")
    async def runs_page(request: Request, v: Seen) -> Response:
        rows = await pages.run_rows(v.board)
        return render(request, "runs.html", viewer=v, rows=rows, title="Runs")

    @router.get("/ui/runs/{run_id}")
    async def run_page(request: Request, run_id: str, v: Seen) -> Response:
        seq = await v.board.last_seq()
        run = await v.board.get_run(run_id)
        tasks = await v.board.tasks(run_id)
        escalations = await v.board.escalations(run_id)
        story = narrate(run, tasks, escalations, now=v.board.clock())
        by_state: dict[TaskState, list[Task]] = {}
        for t in tasks:
            by_state.setdefault(t.state, []).append(t)
        lanes = [
            (
                name,
                " ".join(s.value for s in states),
                [t for s in states for t in by_state.get(s, [])],
            )
            for name, states in pages.COLUMNS
        ]
        return render(
            request, "run.html", viewer=v, run=run, tasks=tasks, lanes=lanes,
            story=story, seq=seq, title=f"Run {run.id}",
        )  # fmt: skip

    @router.get("/ui/runs/{run_id}/graph")
    async def graph_page(request: Request, run_id: str, v: Seen, collapsed: str = "") -> Response:
        run = await v.board.get_run(run_id)
        tasks = await v.board.tasks(run_id)
        fold = {c for c in collapsed.split(",") if c}
        if collapsed == "*":
            fold = {t.parent_id for t in tasks if t.parent_id}
        now = v.board.clock()
        spent = work_seconds(await pages.run_attempts(v.board, run_id), now=now)
        drawn = layout(tasks, collapsed=fold, durations=spent)
        parents = sorted({t.parent_id for t in tasks if t.parent_id})
        return render(
            request, "graph.html", viewer=v, run=run, graph=drawn, parents=parents,
            collapsed=fold, collapsed_arg=collapsed, title=f"Graph of {run.id}",
        )  # fmt: skip

    @router.get("/ui/runs/{run_id}/timeline")
    async def timeline_page(request: Request, run_id: str, v: Seen) -> Response:
        run = await v.board.get_run(run_id)
        found = await pages.run_attempts(v.board, run_id)
        now = v.board.clock()
        drawn = timeline(found, now=now)
        weights = work_seconds(found, now=now)
        critical = layout(await v.board.tasks(run_id), durations=weights).critical_path
        return render(
            request, "timeline.html", viewer=v, run=run, tl=drawn, attempts=found,
            critical=set(critical), critical_path=critical, title=f"Timeline of {run.id}",
        )  # fmt: skip

    @router.get("/ui/runs/{run_id}/costs")
    async def costs_page(request: Request, run_id: str, v: Seen) -> Response:
        found = await pages.costs(v.board, run_id)
        return render(
            request, "costs.html", viewer=v, run=found.run, c=found, title=f"Costs of {run_id}"
        )

    @router.get("/ui/inbox")
    async def inbox_page(request: Request, v: Seen) -> Response:
        items = await pages.inbox(v.board, v.can)
        return render(request, "inbox.html", viewer=v, items=items, title="Inbox")

    @router.get("/ui/tasks/{task_id:path}")
    async def task_page(request: Request, task_id: str, v: Seen) -> Response:
        task = await v.board.get_task(task_id)
        run = await v.board.get_run(task.run_id)
        deps = [await v.board.get_task(d) for d in task.depends_on]
        found = await pages.all_events(v.board, task.run_id)
        mine = [e for e in found if e.task_id == task.id]
        messages = [e for e in mine if e.kind.startswith("message.")]
        escalations = [e for e in mine if e.kind.startswith("escalation.")]
        artifacts, reservations = await pages.shared_work(v.board, task)
        return render(
            request, "task.html", viewer=v, run=run, task=task, deps=deps, events=mine,
            messages=messages, escalations=escalations, title=task.title or task.key,
            artifacts=artifacts, reservations=reservations,
        )  # fmt: skip

    # -- live streams ----------------------------------------------------------------------
    def stream(body: AsyncIterator[bytes]) -> Response:
        return StreamingResponse(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.get("/ui/runs/{run_id}/live")
    async def run_stream(request: Request, run_id: str, v: Seen, after: int = 0) -> Response:
        """The run's events for the open board: ``Last-Event-ID`` (the browser's own
        reconnect) wins over ``?after=`` (the seq the page was rendered at)."""
        last = request.headers.get("last-event-id")
        start = events.resume_point(None, last) if last else after
        await v.board.events(run_id, since=start, limit=1)  # refuse before streaming
        live = _signed_in(request, v.session)
        body = events.sse(
            v.board, run_id, start, set(), (), keepalive_s, named=False, still_valid=live
        )
        return stream(body)

    @router.get("/ui/live")
    async def change_stream(request: Request, v: Seen) -> Response:
        """A ping whenever anything commits, for pages that re-read what they show."""

        first = await v.board.last_seq()  # refuse before streaming
        await v.board.list_runs()  # a Board read: the token is checked against the store
        live = _signed_in(request, v.session)

        async def pings() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n: baton changes\n\n"
            cursor = first
            while live():
                try:
                    if await v.board.wait_for_change(cursor, keepalive_s):
                        cursor = await v.board.last_seq()
                        yield f"id: {cursor}\nevent: change\ndata: {cursor}\n\n".encode()
                    else:
                        yield b": keep-alive\n\n"
                except BatonError:
                    return

        return stream(pings())

    # -- actions ---------------------------------------------------------------------------
    @router.post("/ui/tasks/{task_id:path}/approve")
    async def approve(request: Request, task_id: str) -> Response:
        v, form = await writer(request)
        await v.board.approve(
            task_id, actor=v.who.id, comment=str(form.get("comment") or ""),
            idempotency_key=_idem(form),
        )  # fmt: skip
        return back(form, f"/ui/tasks/{task_id}")

    @router.post("/ui/tasks/{task_id:path}/reject")
    async def reject(request: Request, task_id: str) -> Response:
        v, form = await writer(request)
        feedback = _lines(form.get("feedback"))
        if not feedback:
            raise InvalidArgument(f"write the feedback for {task_id}: what must change")
        await v.board.reject(task_id, feedback, actor=v.who.id, idempotency_key=_idem(form))
        return back(form, f"/ui/tasks/{task_id}")

    @router.post("/ui/runs/{run_id}/pause")
    async def pause(request: Request, run_id: str) -> Response:
        v, form = await writer(request)
        reason = str(form.get("reason") or "").strip() or f"paused from the web board by {v.who.id}"
        await v.board.pause_run(run_id, actor=v.who.id, reason=reason, idempotency_key=_idem(form))
        return back(form, f"/ui/runs/{run_id}")

    @router.post("/ui/runs/{run_id}/resume")
    async def resume(request: Request, run_id: str) -> Response:
        v, form = await writer(request)
        await v.board.resume_run(run_id, actor=v.who.id, idempotency_key=_idem(form))
        return back(form, f"/ui/runs/{run_id}")

    @router.post("/ui/runs/{run_id}/cancel")
    async def cancel(request: Request, run_id: str) -> Response:
        v, form = await writer(request)
        reason = str(form.get("reason") or "").strip() or "cancelled from the web board"
        await v.board.cancel_run(run_id, actor=v.who.id, reason=reason, idempotency_key=_idem(form))
        return back(form, f"/ui/runs/{run_id}")

    @router.post("/ui/runs/{run_id}/answer")
    async def answer(request: Request, run_id: str) -> Response:
        v, form = await writer(request)
        text = str(form.get("answer") or "").strip()
        seq = str(form.get("question_seq") or "")
        if not text or not (seq.isascii() and seq.isdigit()):
            raise InvalidArgument("an answer needs the escalation's seq and some text")
        task_id = str(form.get("task_id") or "") or None
        to = str(form.get("to") or "") or None
        await v.board.post_message(
            run_id, "answer", {"question_seq": int(seq), "answer": text}, sender=v.who.id,
            to=to, task_id=task_id, idempotency_key=_idem(form),
        )  # fmt: skip
        return back(form, "/ui/inbox")

    @router.post("/ui/runs/{run_id}/tasks")
    async def add_task(request: Request, run_id: str) -> Response:
        v, form = await writer(request)
        spec: dict[str, Any] = {
            "id": str(form.get("id") or "").strip(),
            "title": str(form.get("title") or "").strip(),
            "role": str(form.get("role") or "").strip(),
            "description": str(form.get("description") or ""),
            "depends_on": _commas(form.get("depends_on")),
            "requires_approval": form.get("requires_approval") == "on",
        }  # fmt: skip
        await v.board.add_tasks(run_id, [spec], actor=v.who.id, idempotency_key=_idem(form))
        return back(form, f"/ui/runs/{run_id}")

    @router.post("/ui/runs")
    async def create_run(request: Request) -> Response:
        v, form = await writer(request)
        upload = form.get("plan")
        if isinstance(upload, UploadFile) and upload.filename:
            plan = parse_plan_file(upload.filename, await upload.read())
            run = await v.board.create_run(plan, actor=v.who.id, idempotency_key=_idem(form))
        else:
            goal = str(form.get("goal") or "").strip()
            roles = _commas(form.get("roles"))
            run = await v.board.create_goal_run(
                goal, roles=roles, planner_role=str(form.get("planner_role") or "planner"),
                actor=v.who.id, idempotency_key=_idem(form),
            )  # fmt: skip
        return RedirectResponse(f"/ui/runs/{quote(run.id)}", status_code=303)

    app.add_middleware(ClosedForms)
    app.include_router(router)


class ClosedForms:
    """Closes a write's parsed form (its uploaded files' temporary files) once the
    response is sent. Plain ASGI: nothing in the way of the JSON API or a stream."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            form = scope.get("state", {}).get("form") if scope["type"] == "http" else None
            if form is not None:
                await form.close()


class FormRefused(BatonError):
    """A form post that is not this session's own (no CSRF token, or cross-origin):
    refused with 403 before the Board is asked anything."""


def error_page(request: Request, error: BatonError) -> Response:
    """A BatonError on a web path, as a page (the JSON API answers problem+json)."""
    if isinstance(error, Unauthenticated):  # the token was revoked or rotated
        request.app.state.web_sessions.end(request.cookies.get(COOKIE))
        return signin_response(request)
    if isinstance(error, FormRefused):
        status, title, detail = 403, "Refused", str(error)
    else:
        status, body = problem(error)
        title, detail = str(body.get("title", "Error")), str(body.get("detail", error))
    return _page(request, status, title, detail)


def _page(request: Request, status: int, title: str, detail: str) -> Response:
    response = _TEMPLATES.TemplateResponse(
        request, "error.html", {"title": title, "detail": detail, "status": status},
        status_code=status,
    )  # fmt: skip
    response.headers.update(SECURITY_HEADERS)
    return response


def signin_response(request: Request) -> Response:
    page = "text/event-stream" not in request.headers.get("accept", "")
    if request.method == "GET" and page and request.query_params.get("fragment") != "1":
        target = quote(str(request.url.path), safe="/")
        return RedirectResponse(f"/ui/login?next={target}", status_code=303)
    return _page(request, 401, "Signed out", "Sign in again: your session has ended.")
