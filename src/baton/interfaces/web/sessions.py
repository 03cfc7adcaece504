"""Browser sessions: a participant token exchanged for a session cookie.

The cookie carries only a random session id (HttpOnly, SameSite=Strict, Secure over
HTTPS); the token stays in this process's memory, and every request still acts through
the Board as the token's participant, so revoking or rotating the token ends the
session's power at once. Each session has its own CSRF token, which every form carries
and every write checks (in constant time), on top of the same-origin check. Signing out
forgets the session. Sessions live in the serving process: a restart signs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "baton_session"
#: The double-submit cookie that protects the sign-in form itself (login CSRF).
LOGIN_COOKIE = "baton_login"
IDLE_S = 8 * 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    token: str
    csrf: str
    last_seen: float


class Sessions:
    """Session id → session, bounded (the oldest go first) and expiring when idle."""

    def __init__(self, *, idle_s: float = IDLE_S, size: int = MAX_SESSIONS) -> None:
        self.idle_s, self.size = idle_s, size
        self.known: dict[str, Session] = {}

    def start(self, token: str) -> Session:
        while len(self.known) >= self.size:
            self.known.pop(next(iter(self.known)))
        session = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), time.time())
        self.known[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self.known.get(session_id)
        if session is None:
            return None
        now = time.time()
        if now - session.last_seen > self.idle_s:
            self.known.pop(session_id, None)
            return None
        session.last_seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self.known.pop(session_id, None)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
