"""``/mcp`` on ``baton serve``: the same server over streamable HTTP, on the door's own
FastAPI app.

Every HTTP request is authenticated by its ``Authorization: Bearer <token>`` header
through the server's own token → principal lookup, exactly as the JSON API's requests
are: a request without a token the board accepts is answered 401 (problem+json, with
``WWW-Authenticate``) before the MCP layer sees it. Each tool call then acts as the
participant of the request that carried it, and an MCP session is bound to the
participant that opened it (the SDK refuses another participant's token on it).
"""

from __future__ import annotations

from fastapi import FastAPI
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from baton.interfaces.http.middleware import problem_response
from baton.interfaces.http.problems import problem
from baton.interfaces.mcp.callers import TokenLookup, per_request
from baton.interfaces.mcp.server import build_server
from baton.model.errors import BatonError

PATH = "/mcp"


class BearerGate:
    """Lets an HTTP request through to the MCP app only with a token the board accepts
    (looked up afresh, so a revoked token is a 401 at once), and tells the SDK whose
    request it is, so that it binds each session to its participant."""

    def __init__(self, app: ASGIApp, lookup: TokenLookup) -> None:
        self.app, self.lookup = app, lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - the route is HTTP only
            await self.app(scope, receive, send)
            return
        try:
            board = await self.lookup(Headers(scope=scope).get("authorization"), fresh=True)
        except BatonError as error:
            await problem_response(*problem(error))(scope, receive, send)
            return
        who = AccessToken(token="", client_id=board.principal.id, scopes=[])
        scope["user"] = AuthenticatedUser(who)
        await self.app(scope, receive, send)


def mount(app: FastAPI, lookup: TokenLookup) -> StreamableHTTPSessionManager:
    """Serve MCP at ``/mcp`` on ``app``. Returns the session manager, whose ``run()``
    the app's lifespan must enter: its sessions live in a task group it holds."""
    server = build_server(per_request(lookup))
    # Called for the session manager it creates; the Starlette app it returns is not
    # used: the route is the door's own, behind the bearer gate, on the door's app.
    server.streamable_http_app(
        # Every request must carry a participant's bearer token, which a DNS-rebinding
        # page cannot have; and behind a TLS proxy the Host is the proxy's name. The
        # JSON API checks neither, and neither does this.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    gate = BearerGate(manager.handle_request, lookup)
    app.router.routes.append(Route(PATH, endpoint=gate, include_in_schema=False))
    return manager
