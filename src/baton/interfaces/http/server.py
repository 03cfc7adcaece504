"""``baton serve``: the whole Board over HTTP (FastAPI on uvicorn).

Each request is authenticated by its bearer token (``Authorization: Bearer baton_pt_…``)
and runs on the Board *acting as* that participant, so every rule — permissions,
contracts, budgets, transitions — is the Board's; this module only translates. Errors
are ``application/problem+json`` from one table (:mod:`.problems`); an
``Idempotency-Key`` header becomes the Board call's idempotency key; request bodies
larger than ``max_body_bytes`` are refused with 413 before they are read.

The live event stream (``GET /runs/{id}/events`` with ``Accept: text/event-stream``) is
driven by the store's commit wake-up (``wait_for_change``: LISTEN/NOTIFY on
PostgreSQL), resumes from ``Last-Event-ID`` or ``?after=``, and sends a keep-alive
comment when nothing happens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton.board import Board
from baton.interfaces.http import events, governance, participants, shared_work, wire, work
from baton.interfaces.http.callers import As, Fresh, Key, Principals, _bearer
from baton.interfaces.http.middleware import DoorMiddleware, problem_response
from baton.interfaces.http.problems import PROBLEM_TYPE, plain_problem, problem
from baton.interfaces.http.responses import json_response, model_response
from baton.interfaces.http.wire import CURSOR_HEADER, MAX_WAIT_S
from baton.interfaces.web import routes as web
from baton.model import Briefing, Event, Run, Task
from baton.model.errors import BatonError
from baton.views.narration import narrate

log = logging.getLogger("baton.http")


@dataclass(frozen=True)
class ServeSettings:
    """How the door behaves. Every field is a ``baton serve`` flag and a ``BATON_*``
    environment variable (docs/http.md)."""

    #: The largest request body accepted; larger ones are answered 413 unread.
    max_body_bytes: int = 2_000_000
    #: Origins allowed to call from a browser (CORS); none unless configured.
    cors_origins: Sequence[str] = ()
    #: A token that acts as the store's local owner over HTTP; off (``None``) by
    #: default. For bootstrapping and automation on a trusted machine only.
    owner_token: str | None = None
    #: Seconds between keep-alive comments on an idle event stream.
    keepalive_s: float = 15.0
    #: Shown in the OpenAPI document.
    title: str = "Baton"
    extra: dict[str, Any] = field(default_factory=dict)


# --- encoding ------------------------------------------------------------------------

_TASKS = TypeAdapter(list[Task])
_RUNS = TypeAdapter(list[Run])
_EVENTS = TypeAdapter(list[Event])
_COUNTS = TypeAdapter(dict[str, int])


# --- who is calling ---------------------------------------------------------------------


EventQuery = Annotated[int | None, Query(ge=0, description="Events after this seq.")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
Filter = Annotated[list[str], Query()]
Wait = Annotated[float, Query(ge=0, le=3600, description="Seconds to wait for the first.")]
LastId = Annotated[str | None, Header(alias="Last-Event-ID")]


# --- the app ----------------------------------------------------------------------------


def create_app(board: Board, settings: ServeSettings | None = None) -> FastAPI:
    """The HTTP door over ``board`` (which acts as the store's owner; each request acts
    as its authenticated participant)."""
    settings = settings or ServeSettings()
    problem_schema = {"$ref": "#/components/schemas/Problem"}
    errors: dict[int | str, dict[str, Any]] = {
        status: {
            "description": why,
            "content": {PROBLEM_TYPE: {"schema": problem_schema}},
        }
        for status, why in (
            (400, "Malformed request"),
            (401, "No valid token"),
            (403, "The participant lacks a grant"),
            (404, "No such object (or not visible to the caller)"),
            (409, "Conflicts with the board's state"),
            (413, "Body too large"),
            (422, "Invalid argument"),
            (503, "Store unavailable; retry"),
        )
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with app.state.mcp.run():  # the MCP door's sessions live inside the app's
            yield

    app = FastAPI(
        title=settings.title,
        version="1",
        responses=errors,
        lifespan=lifespan,
        description=(
            "The Baton board over HTTP. Authenticate with `Authorization: Bearer <token>` "
            "(`baton participant add` issues tokens). Errors are application/problem+json "
            "(RFC 9457) with Baton's error `code` and its `fields`."
        ),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )

    @app.exception_handler(BatonError)
    async def baton_error(request: Request, error: BatonError) -> Response:
        if web.is_web(request.url.path):
            return web.error_page(request, error)
        return problem_response(*problem(error))

    @app.exception_handler(web.SignIn)
    async def sign_in(request: Request, error: web.SignIn) -> Response:
        return web.signin_response(request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        where = [".".join(str(p) for p in item.get("loc", ())) for item in error.errors()]
        said = [str(item.get("msg", "")) for item in error.errors()]
        problems = [{"loc": loc, "msg": msg} for loc, msg in zip(where, said, strict=True)]
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            detail = "the request body is not valid JSON: " + "; ".join(said)
            return problem_response(400, plain_problem(400, "MalformedJSON", detail))
        detail = "invalid request: " + "; ".join(f"{p['loc']}: {p['msg']}" for p in problems)
        body = plain_problem(422, "InvalidArgument", detail, errors=problems)
        return problem_response(422, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "NoSuchPath", 405: "MethodNotAllowed"}.get(error.status_code, "HTTPError")
        if error.status_code == 400 and "parsing the body" in str(error.detail):
            code = "MalformedJSON"  # FastAPI's word for a body it could not decode
        detail = (
            f"no endpoint {request.method} {request.url.path}; GET /docs lists them"
            if error.status_code in (404, 405)
            else str(error.detail)
        )
        return problem_response(error.status_code, plain_problem(error.status_code, code, detail))

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, error: RecursionError) -> Response:
        detail = "the request body nests too deeply to read"
        return problem_response(400, plain_problem(400, "MalformedJSON", detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        body = plain_problem(500, "InternalError", "the server failed; see its log")
        return problem_response(500, body)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = wire.Problem.model_json_schema()
            spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            spec["security"] = [{"bearer": []}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    app.state.principals = Principals(board, settings.owner_token)

    # -- who, limits ------------------------------------------------------------------
    # Before the task routes: /tasks/{id:path}/release must not swallow
    # /tasks/{id}/reservations/release.
    app.include_router(shared_work.router)
    app.include_router(governance.router)

    @app.get("/whoami", response_model=wire.Who, tags=["participants"])
    async def whoami(b: Fresh) -> Response:
        return model_response(wire.Who.of(b.principal))

    @app.get("/limits", response_model=wire.ServerLimits, tags=["board"])
    async def limits(b: Fresh) -> Response:
        lim = b.limits
        return model_response(
            wire.ServerLimits(
                max_json_bytes=lim.max_json_bytes,
                max_depth=lim.max_depth,
                max_text=lim.max_text,
                max_tasks=lim.max_tasks,
                max_duration_s=lim.max_duration_s,
                max_body_bytes=settings.max_body_bytes,
            )
        )

    app.include_router(participants.router)

    # -- runs ----------------------------------------------------------------------------
    @app.post("/runs", response_model=Run, status_code=201, tags=["runs"])
    async def create_run(body: wire.NewRun, b: As, key: Key = None) -> Response:
        run = await b.create_run(
            body.plan, actor=body.actor, run_id=body.run_id, idempotency_key=key
        )
        return json_response(run.model_dump_json().encode(), 201)

    @app.post("/runs/goal", response_model=Run, status_code=201, tags=["runs"])
    async def create_goal_run(body: wire.NewGoalRun, b: As, key: Key = None) -> Response:
        run = await b.create_goal_run(
            body.goal,
            roles=body.roles,
            planner_role=body.planner_role,
            budget=body.budget,
            max_planning_attempts=body.max_planning_attempts,
            actor=body.actor,
            run_id=body.run_id,
            idempotency_key=key,
        )
        return json_response(run.model_dump_json().encode(), 201)

    @app.get("/runs", response_model=list[Run], tags=["runs"])
    async def list_runs(b: As) -> Response:
        return json_response(_RUNS.dump_json(await b.list_runs()))

    @app.get("/runs/{run_id}", response_model=Run, tags=["runs"])
    async def get_run(run_id: str, b: As) -> Response:
        return model_response(await b.get_run(run_id))

    @app.get("/runs/{run_id}/status", tags=["runs"])
    async def status(run_id: str, b: As) -> Response:
        run = await b.get_run(run_id)
        tasks = await b.tasks(run_id)
        text = narrate(run, tasks, await b.escalations(run_id), now=b.clock())
        counts = await b.count_by_state(run_id)
        payload = {"run": run.model_dump(mode="json"), "counts": counts, "narration": text}
        return json_response(json.dumps(payload).encode())

    @app.post("/runs/{run_id}/tasks", response_model=list[Task], tags=["runs"])
    async def add_tasks(run_id: str, body: wire.NewTasks, b: As, key: Key = None) -> Response:
        added = await b.add_tasks(
            run_id, body.tasks, actor=body.actor or b.principal.id, idempotency_key=key
        )
        return json_response(_TASKS.dump_json(added))

    @app.post("/runs/{run_id}/cancel", response_model=Run, tags=["runs"])
    async def cancel_run(run_id: str, body: wire.Reason, b: As, key: Key = None) -> Response:
        run = await b.cancel_run(run_id, actor=body.actor, reason=body.reason, idempotency_key=key)
        return model_response(run)

    @app.post("/runs/{run_id}/pause", response_model=Run, tags=["runs"])
    async def pause_run(run_id: str, body: wire.Reason, b: As, key: Key = None) -> Response:
        run = await b.pause_run(
            run_id, actor=body.actor or b.principal.id, reason=body.reason, idempotency_key=key
        )
        return model_response(run)

    @app.post("/runs/{run_id}/resume", response_model=Run, tags=["runs"])
    async def resume_run(run_id: str, body: wire.Resume, b: As, key: Key = None) -> Response:
        run = await b.resume_run(
            run_id, actor=body.actor or b.principal.id, budget=body.budget, idempotency_key=key
        )
        return model_response(run)

    @app.post("/runs/{run_id}/escalations", response_model=Event, tags=["runs"])
    async def escalate(run_id: str, body: wire.NewEscalation, b: As, key: Key = None) -> Response:
        event = await b.escalate(
            run_id,
            body.kind,
            body.reason,
            evidence=body.evidence,
            task_id=body.task_id,
            actor=body.actor or b.principal.id,
            idempotency_key=key,
        )
        return model_response(event)

    @app.get("/runs/{run_id}/escalations", response_model=list[Event], tags=["runs"])
    async def escalations(run_id: str, b: As, limit: int = 1000) -> Response:
        return json_response(_EVENTS.dump_json(await b.escalations(run_id, limit=limit)))

    @app.post("/runs/{run_id}/messages", response_model=Event, tags=["messages"])
    async def post_message(run_id: str, body: wire.NewMessage, b: As, key: Key = None) -> Response:
        event = await b.post_message(
            run_id,
            body.kind,
            body.body,
            sender=body.sender or b.principal.id,
            to=body.to,
            task_id=body.task_id,
            idempotency_key=key,
        )
        return model_response(event)

    @app.get("/runs/{run_id}/messages", response_model=list[Event], tags=["messages"])
    async def messages(run_id: str, b: As, limit: int = 100) -> Response:
        return json_response(_EVENTS.dump_json(await b.messages(run_id, limit=limit)))

    @app.get("/runs/{run_id}/briefing", response_model=Briefing, tags=["runs"])
    async def briefing(
        run_id: str,
        b: As,
        messages: int = 50,
        dependencies: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        """The run, its latest messages, and the tasks named in ``dependencies``."""
        found = await b.briefing(run_id, messages=messages, dependencies=dependencies or ())
        return model_response(found)

    @app.get("/runs/{run_id}/tasks", response_model=list[Task], tags=["tasks"])
    async def run_tasks(run_id: str, b: As) -> Response:
        return json_response(_TASKS.dump_json(await b.tasks(run_id)))

    @app.get("/runs/{run_id}/counts", response_model=dict[str, int], tags=["runs"])
    async def counts(run_id: str, b: As) -> Response:
        return json_response(_COUNTS.dump_json(await b.count_by_state(run_id)))

    @app.get("/runs/{run_id}/queues", response_model=dict[str, int], tags=["runs"])
    async def queues(run_id: str, b: As) -> Response:
        return json_response(_COUNTS.dump_json(await b.ready_by_role(run_id)))

    @app.get("/runs/{run_id}/watched", response_model=list[Task], tags=["tasks"])
    async def watched(run_id: str, b: As, review_rounds_at_least: int = 3) -> Response:
        found = await b.watched_tasks(run_id, review_rounds_at_least=review_rounds_at_least)
        return json_response(_TASKS.dump_json(found))

    @app.get("/runs/{run_id}/recent-events", response_model=list[Event], tags=["events"])
    async def recent_events(
        run_id: str, b: As, kind_prefix: str = "", limit: int = 500
    ) -> Response:
        found = await b.recent_events(run_id, kind_prefix=kind_prefix, limit=limit)
        return json_response(_EVENTS.dump_json(found))

    @app.get("/runs/{run_id}/progress", response_model=wire.Progress | None, tags=["runs"])
    async def progress(run_id: str, b: As) -> Response:
        last = await b.last_progress(run_id)
        if last is None:
            return json_response(b"null")
        return model_response(wire.Progress(seq=last[0], at=last[1]))

    @app.get("/runs/{run_id}/wait", response_model=Run | None, tags=["runs"])
    async def wait_run(
        run_id: str,
        b: As,
        until: Annotated[str, Query(pattern="^(finished|ended)$")] = "finished",
        timeout: Annotated[float, Query(ge=0, le=3600)] = MAX_WAIT_S,
    ) -> Response:
        """The run once it is no longer active (``finished``) or has ended; ``null``
        when ``timeout`` (at most 25 s) passes first — ask again."""
        waiting = min(timeout, MAX_WAIT_S)
        try:
            if until == "finished":
                run = await b.wait_finished(run_id, waiting)
            else:
                run = await b.wait_ended(run_id, timeout=waiting)
        except TimeoutError:
            await b.get_run(run_id)  # still there, still visible
            return json_response(b"null")
        return model_response(run)

    # -- events ----------------------------------------------------------------------
    async def event_page_or_stream(
        request: Request,
        b: Board,
        run_id: str | None,
        after: int | None,
        last_event_id: str | None,
        limit: int,
        task: Sequence[str],
        kind: Sequence[str],
        wait: float,
    ) -> Response:
        start = events.resume_point(after, last_event_id)
        tasks, kinds = set(task), tuple(kind)
        if "text/event-stream" in request.headers.get("accept", ""):
            await b.events(run_id, since=start, limit=1)  # refuse before streaming starts
            return StreamingResponse(
                events.sse(b, run_id, start, tasks, kinds, settings.keepalive_s),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        head = await b.last_seq() if wait > 0 else 0
        found, cursor = await events.page(b, run_id, start, limit, tasks, kinds)
        if not found and wait > 0:
            deadline = time.monotonic() + min(wait, MAX_WAIT_S)
            while not found:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not await b.wait_for_change(max(head, cursor), remaining):
                    break
                head = await b.last_seq()
                found, cursor = await events.page(b, run_id, cursor, limit, tasks, kinds)
        response = json_response(_EVENTS.dump_json(found))
        response.headers[CURSOR_HEADER] = str(cursor)
        return response

    @app.get("/runs/{run_id}/events", response_model=list[Event], tags=["events"])
    async def run_events(
        request: Request,
        run_id: str,
        b: As,
        after: EventQuery = None,
        limit: Limit = 1000,
        task: Filter = [],  # noqa: B006 - FastAPI reads the default, never mutates it
        kind: Filter = [],  # noqa: B006
        wait: Wait = 0.0,
        last_event_id: LastId = None,
    ) -> Response:
        """The run's events: a JSON page (``?after=SEQ&limit=N``, optionally waiting up
        to ``wait`` seconds for the first), or with ``Accept: text/event-stream`` a live
        stream (``id:`` is the seq; resume with ``Last-Event-ID``). ``task`` and
        ``kind`` (a prefix such as ``task.``) filter; both may repeat."""
        return await event_page_or_stream(
            request, b, run_id, after, last_event_id, limit, task, kind, wait
        )

    @app.get("/events", response_model=list[Event], tags=["events"])
    async def all_events(
        request: Request,
        b: As,
        after: EventQuery = None,
        limit: Limit = 1000,
        task: Filter = [],  # noqa: B006
        kind: Filter = [],  # noqa: B006
        wait: Wait = 0.0,
        last_event_id: LastId = None,
    ) -> Response:
        """Every run's events (needs every run); as ``/runs/{id}/events``."""
        return await event_page_or_stream(
            request, b, None, after, last_event_id, limit, task, kind, wait
        )

    @app.get("/seq", response_model=wire.Seq, tags=["events"])
    async def last_seq(b: Fresh) -> Response:
        return model_response(wire.Seq(seq=await b.last_seq()))

    @app.get("/changes", response_model=wire.Changed, tags=["events"])
    async def changes(
        b: Fresh,
        after: Annotated[int, Query(ge=0)],
        timeout: Annotated[float, Query(ge=0, le=3600)] = MAX_WAIT_S,
    ) -> Response:
        """Whether anything committed after seq ``after``, waiting up to ``timeout``."""
        changed = await b.wait_for_change(after, min(timeout, MAX_WAIT_S))
        return model_response(wire.Changed(changed=changed))

    # -- work, reviews, duties: http/work.py ---------------------------------------
    app.include_router(work.router)

    # -- maintenance -------------------------------------------------------------------
    @app.get("/similar-ids", response_model=wire.Ids, tags=["board"])
    async def similar_ids(
        b: Fresh, kind: Annotated[str, Query(pattern="^(run|task)$")], ident: str, limit: int = 3
    ) -> Response:
        return model_response(wire.Ids(ids=await b.similar_ids(kind, ident, limit=limit)))

    @app.post("/idempotency/forget", response_model=wire.Count, tags=["board"])
    async def forget(body: wire.Forget, b: As) -> Response:
        return model_response(
            wire.Count(count=await b.forget_idempotency(older_than_s=body.older_than_s))
        )

    @app.post("/backup", response_model=wire.Count, tags=["board"])
    async def backup(body: wire.Backup, b: As) -> Response:
        """Back the store up to a path *on the server* (admin)."""
        return model_response(wire.Count(count=await b.backup(body.destination)))

    @app.get("/snapshot", response_model=wire.Snapshot, tags=["board"])
    async def snapshot(b: As) -> Response:
        tables = await b.snapshot()
        body = wire.Snapshot(tables={k: [list(row) for row in v] for k, v in tables.items()})
        return model_response(body)

    @app.get("/health", tags=["board"], openapi_extra={"security": []})
    async def health() -> Response:
        """Liveness, without authentication: the server answers."""
        return json_response(b'{"ok":true}')

    web.mount(app, app.state.principals, keepalive_s=settings.keepalive_s)

    async def lookup(authorization: str | None, *, fresh: bool) -> Board:
        principals: Principals = app.state.principals  # the JSON API's own lookup
        return await principals.board_for(_bearer(authorization), fresh=fresh)

    # Imported here: the MCP SDK takes ~0.6 s to import, which every `baton` command
    # would pay (the CLI imports this module) though only `baton serve` mounts it.
    from baton.interfaces.mcp import http as mcp_door

    app.state.mcp = mcp_door.mount(app, lookup)  # MCP over streamable HTTP at /mcp
    app.add_middleware(
        DoorMiddleware,
        max_body_bytes=settings.max_body_bytes,
        clock=board.clock,
    )
    return app


async def serve(
    board: Board,
    *,
    host: str = "127.0.0.1",
    port: int = 8711,
    settings: ServeSettings | None = None,
    ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve ``board`` until cancelled or signalled (uvicorn handles SIGINT/SIGTERM:
    in-flight requests finish, then the board closes). ``port=0`` takes a free port;
    ``ready(url)`` is called once the socket listens."""
    import uvicorn

    app = create_app(board, settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # it failed to start: raise why
                raise OSError(f"baton serve could not listen on {host}:{port}")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        shown = f"[{host}]" if ":" in host else host
        if ready is not None:
            ready(f"http://{shown}:{bound[1]}")
        await asyncio.shield(task)
    finally:
        if not task.done():  # cancelled: shut down as on a signal (sockets closed)
            server.should_exit = True
            await asyncio.wait([task], timeout=10)
        await board.close()
