"""How a :class:`~baton.interfaces.http.client.RemoteBoard` talks to ``baton serve``:
one participant's bearer token on every request, the attempt's trace carried on, an
error answered by the server raised as the exception the local Board would have raised
(:mod:`.problems`), an unreachable server as
:class:`~baton.model.errors.StoreUnavailable`, and the server's clock learned from each
response (leases expire on the server's clock, not this machine's).

A body that cannot travel as JSON at all is refused here, naming where in it; anything
that can travel is sent, so that the Board — not the client — judges it.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
from opentelemetry import trace
from pydantic import BaseModel

from baton.interfaces.http.problems import rebuild
from baton.interfaces.http.wire import CLOCK_HEADER
from baton.model.errors import BatonError, InvalidArgument, StoreUnavailable
from baton.runtime.tracing import inject_headers


class Transport:
    """HTTP calls to ``baton serve`` at ``url`` as the participant ``token`` stands
    for. ``http`` shares another transport's connections (it is then not closed here)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._auth = {"Authorization": f"Bearer {token}"}
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(
            base_url=self.url,
            headers={"User-Agent": "baton-remote"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )
        #: The server's clock minus this machine's, as of its last response.
        self.clock_offset = 0.0
        #: The deepest nest a value may have (the server's ``Limits.max_depth``, once
        #: known): deeper is refused before it is sent.
        self.max_depth = 64

    def clock(self) -> float:
        """The server's clock, as of its last response."""
        return time.time() + self.clock_offset

    def sharing(self, token: str) -> Transport:
        """Calls as the participant ``token`` stands for, on these connections."""
        return Transport(self.url, token, http=self.http)

    async def close(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
        wait: float = 0.0,
    ) -> httpx.Response:
        headers = {**self._auth, "Idempotency-Key": key} if key is not None else self._auth
        if trace.get_current_span().get_span_context().is_valid:  # continue the attempt's trace
            headers = dict(headers)
            inject_headers(headers)
        timeout = httpx.USE_CLIENT_DEFAULT if wait <= 0 else httpx.Timeout(wait + 30.0)
        content = None if body is None else self._encode(body)
        if content is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        try:
            response = await self.http.request(
                method, path, content=content, params=params, headers=headers, timeout=timeout
            )
        except httpx.TransportError as error:
            raise StoreUnavailable(f"cannot reach baton serve at {self.url}: {error!r}") from None
        except UnicodeEncodeError:  # an id or query value no store could hold
            raise InvalidArgument(
                f"cannot send {path!r} {dict(params or {})!r} over HTTP: not valid Unicode text"
            ) from None
        stamp = response.headers.get(CLOCK_HEADER)
        if stamp is not None:
            with contextlib.suppress(ValueError):
                self.clock_offset = float(stamp) - time.time()
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _encode(self, body: Any) -> bytes:
        depth = self.max_depth + 4  # the body's own nest
        problem = unsendable(body, depth)
        if problem is not None:
            raise InvalidArgument(f"cannot send this to the board over HTTP: {problem}")
        return json.dumps(body, allow_nan=True).encode()

    def _error(self, response: httpx.Response) -> BatonError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        body.setdefault("detail", f"HTTP {response.status_code} from {self.url}")
        return rebuild(body, response.status_code)

    async def get(self, path: str, **params: Any) -> bytes:
        query = {k: v for k, v in params.items() if v is not None}
        return (await self.call("GET", path, params=query)).content

    async def post(self, path: str, body: Any = None, key: str | None = None) -> bytes:
        return (await self.call("POST", path, body=body or {}, key=key)).content


def plain(value: Any, depth: int = 0) -> Any:
    """A Board argument as JSON: models by their fields, a model class (a contract) by
    its JSON schema, the rest as given (too deep a nest is left for the check)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    if depth > 100:
        return value
    if isinstance(value, Mapping):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    return value


def unsendable(value: Any, max_depth: int) -> str | None:
    """Why ``value`` cannot travel as JSON at all (a set, an object, a key that is not
    a string, a nest too deep to encode), or ``None``. Everything that can travel is
    sent, NaN included, so that the Board — not the client — judges it."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        where = path or "<root>"
        if depth > max_depth:
            return f"at {where}: nested deeper than {max_depth} levels (Limits.max_depth)"
        if item is None or isinstance(item, str | int | float | bool):
            continue
        if isinstance(item, Mapping):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return f"at {where}: key {key!r:.40} is not a string"
                stack.append((sub, depth + 1, f"{path}/{key}"[:200]))
        elif isinstance(item, list | tuple):
            stack.extend((sub, depth + 1, f"{path}/{i}"[:200]) for i, sub in enumerate(item))
        else:
            return f"at {where}: a {type(item).__name__} is not a JSON value"
    return None
