"""A scripted OpenAI-compatible chat-completions server for tests.

There is no network and no API key in the tests, so LLM agents talk through their real
HTTP client (pydantic-ai's ``OpenAIChatModel`` over ``OpenAIProvider(base_url=...)``) to
this server on 127.0.0.1. Each test scripts what the "model" answers, one reply per
request, and afterwards reads every request body the client sent::

    with ScriptedLLM() as llm:
        llm.script(output({"answer": "42"}, usage=(120, 30)))
        agent = LLMAgent(roles=["writer"], model=llm.model_spec())
        ...
        assert "task card text" in llm.prompt_text(0)

Replies: :func:`output` (a call of the structured-output tool, whose name is read from
the request), :func:`tool_call` (a call of a named function tool), :func:`text`,
:func:`http_error`, :func:`malformed` (a 200 whose body is not JSON) and :func:`hang`
(no answer for a bounded time, then the connection is closed). Once the script runs out
the server answers with ``default`` (an HTTP 500 naming the exhausted script unless set).
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

Kind = Literal["output", "tool_call", "text", "http_error", "malformed", "hang"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one request."""

    kind: Kind
    name: str | None = None  # tool name (None for output: the request's output tool)
    args: Any = None  # tool arguments: a JSON-able value, or a str sent verbatim
    content: str = ""  # text reply, or the body of an error / malformed reply
    status: int = 200
    seconds: float = 0.0  # how long a hang lasts at most
    usage: tuple[int, int] | None = (10, 5)  # (prompt_tokens, completion_tokens)


def output(args: Any, *, name: str | None = None, usage: tuple[int, int] | None = (10, 5)) -> Reply:
    """Call the structured-output tool with ``args`` (by ``name``, or the request's last
    tool that is not one of the server's ``function_tools``)."""
    return Reply("output", name=name, args=args, usage=usage)


def tool_call(name: str, args: Any, *, usage: tuple[int, int] | None = (10, 5)) -> Reply:
    """Call the function tool ``name`` with ``args``."""
    return Reply("tool_call", name=name, args=args, usage=usage)


def text(content: str, *, usage: tuple[int, int] | None = (10, 5)) -> Reply:
    """A plain assistant text message."""
    return Reply("text", content=content, usage=usage)


def http_error(status: int = 500, message: str = "scripted server error") -> Reply:
    """An HTTP error with an OpenAI-style error body."""
    body = json.dumps({"error": {"message": message, "type": "server_error", "code": None}})
    return Reply("http_error", status=status, content=body)


def echo_auth_error(status: int = 500) -> Reply:
    """An HTTP error whose body quotes the request's ``Authorization`` header, as some
    providers' gateways do: the key the client sent comes back in the error text."""
    return Reply("http_error", status=status, content=ECHO_AUTH)


#: In an error reply's content: replaced by the request's Authorization header.
ECHO_AUTH = "<<echo-authorization>>"


def malformed(body: str = '{"id": "chatcmpl-broken", "choices": [') -> Reply:
    """A 200 response whose JSON body is cut off."""
    return Reply("malformed", content=body)


def hang(seconds: float = 5.0) -> Reply:
    """Say nothing for up to ``seconds`` (less if the server shuts down), then close the
    connection without a response."""
    return Reply("hang", seconds=seconds)


@dataclass
class _Script:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedLLM:
    """The server. Use as a context manager (or the :func:`llm_server` fixture)."""

    def __init__(
        self,
        *,
        function_tools: Iterable[str] = (),
        default: Reply | None = None,
    ) -> None:
        self.function_tools = set(function_tools)
        self.default = default or http_error(500, "the test's script ran out of replies")
        self._script = _Script()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._handlers: list[threading.Thread] = []

    # --- scripting and inspection ---------------------------------------------------------

    def script(self, *replies: Reply) -> ScriptedLLM:
        with self._script.lock:
            self._script.replies.extend(replies)
        return self

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request body received, in order (a copy)."""
        with self._script.lock:
            return list(self._script.requests)

    @property
    def remaining(self) -> int:
        with self._script.lock:
            return len(self._script.replies)

    def prompt_text(self, index: int) -> str:
        """All the message text of request ``index`` (system, user, tool results), joined."""
        return "\n".join(_message_text(m) for m in self.requests[index].get("messages", []))

    def tool_names(self, index: int) -> list[str]:
        """The tool names offered in request ``index``."""
        return [t["function"]["name"] for t in self.requests[index].get("tools", [])]

    # --- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def model_spec(self, name: str = "scripted") -> str:
        """A model string for ``resolve_model``: ``openai:NAME@BASE_URL``."""
        return f"openai:{name}@{self.base_url}"

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> ScriptedLLM:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # ends any hang at once
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for handler in list(self._handlers):
            handler.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- answering (called on handler threads) ----------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._script.lock:
            self._script.requests.append(body)
            return self._script.replies.popleft() if self._script.replies else self.default

    def _output_tool(self, body: dict[str, Any]) -> str:
        names = [str(t["function"]["name"]) for t in body.get("tools", [])]
        candidates = [n for n in names if n not in self.function_tools]
        if not candidates:
            raise AssertionError(f"no output tool offered; the request's tools are {names}")
        return candidates[-1]


class _Handler(BaseHTTPRequestHandler):
    server_owner: ScriptedLLM

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        owner = self.server_owner
        owner._handlers.append(threading.current_thread())
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
            return
        body = json.loads(raw)
        reply = owner._next(body)
        if reply.kind == "hang":
            owner._closing.wait(reply.seconds)
            self.close_connection = True
            return
        if reply.kind == "http_error":
            content = reply.content
            if content == ECHO_AUTH:
                sent = self.headers.get("Authorization", "")
                message = f"invalid request; headers were: Authorization: {sent}"
                content = json.dumps({"error": {"message": message, "type": "server_error"}})
            self._send(reply.status, content)
            return
        if reply.kind == "malformed":
            self._send(200, reply.content)
            return
        self._send(200, json.dumps(_completion(owner, body, reply)))

    def _send(self, status: int, data: str) -> None:
        payload = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _completion(owner: ScriptedLLM, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    n = len(owner.requests)
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "tool_calls"
    if reply.kind == "text":
        message["content"] = reply.content
        finish = "stop"
    else:
        name = reply.name if reply.kind == "tool_call" else reply.name or owner._output_tool(body)
        args = reply.args if isinstance(reply.args, str) else json.dumps(reply.args)
        message["tool_calls"] = [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}
        ]
    completion: dict[str, Any] = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if reply.usage is not None:
        prompt, completion_tokens = reply.usage
        completion["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }
    return completion


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    for call in message.get("tool_calls") or []:
        parts.append(json.dumps(call.get("function", {})))
    return "\n".join(parts)


def unused_port() -> int:
    """A local port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLM]:
    """A started :class:`ScriptedLLM`, shut down after the test."""
    with ScriptedLLM() as server:
        yield server
