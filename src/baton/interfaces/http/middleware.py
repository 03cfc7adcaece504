"""What every response of the door passes through, in plain ASGI (cheap on every
request): the request body limit (413 before the body is read, by ``Content-Length`` or
while it streams) and the board's clock on every response; and the problem+json
response itself."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import Response

from baton.interfaces.http.problems import PROBLEM_TYPE, plain_problem
from baton.interfaces.http.wire import CLOCK_HEADER
from baton.runtime.tracing import mark_error, server_span


def problem_response(status: int, body: dict[str, Any]) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="baton"'} if status == 401 else None
    return Response(
        json.dumps(body).encode(), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class DoorMiddleware:
    """Refuses bodies over the limit (413, by ``Content-Length`` or while streaming)
    and stamps every response with the board's clock."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, clock: Callable[[], float]):
        self.app, self.max_body_bytes, self.clock = app, max_body_bytes, clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await self._too_large(send, declared)
                    return
        seen = 0
        overflowed = False

        async def counted() -> Message:
            nonlocal seen, overflowed
            message = await receive()
            if message["type"] == "http.request" and not overflowed:
                seen += len(message.get("body", b""))
                if seen > limit:  # stop reading; the app's answer is replaced below
                    overflowed = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        status = 0

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 0))
            if overflowed:
                if message["type"] == "http.response.start":
                    await self._too_large(send, seen)
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((CLOCK_HEADER.encode(), repr(self.clock()).encode()))
                message["headers"] = headers
            await send(message)

        traced = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        if "traceparent" not in traced:  # no caller trace to continue: no span, no cost
            await self.app(scope, counted, stamped)
            return
        with server_span(scope["method"], scope["path"], traced) as span:
            await self.app(scope, counted, stamped)
            route = scope.get("route")
            if route is not None and hasattr(route, "path"):
                span.update_name(f"{scope['method']} {route.path}")
                span.set_attribute("http.route", route.path)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                mark_error(span, f"status {status}")

    async def _too_large(self, send: Send, size: int) -> None:
        body = plain_problem(
            413,
            "BodyTooLarge",
            f"the request body ({size} bytes or more) is over the limit of "
            f"{self.max_body_bytes} bytes (baton serve --max-body-bytes)",
            limit=self.max_body_bytes,
        )
        response = problem_response(413, body)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a response never reads
    return {"type": "http.disconnect"}
