"""A blocking facade over :class:`~baton.board.Board`, for scripts, notebooks and the CLI.

Each call runs the async method to completion on a private event loop
(:class:`asyncio.Runner`), so there is one implementation of every rule. Use one
``SyncBoard`` per thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from baton.board.facade import Board
from baton.board.protocol import BoardAPI
from baton.model import Event
from baton.model.errors import UsageError
from baton.model.participants import Principal

P = ParamSpec("P")
T = TypeVar("T")


def _blocking(
    method: Callable[Concatenate[Board, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[SyncBoard, P], T]:
    name = method.__name__

    def call(self: SyncBoard, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound: Callable[P, Coroutine[Any, Any, T]] = getattr(self.board, name)
        return self._runner.run(bound(*args, **kwargs))

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


async def _next(stream: AsyncGenerator[Event, None]) -> Event:
    return await anext(stream)


class SyncBoard:
    """Blocking twin of :class:`Board` — or of any board implementing
    :class:`~baton.board.protocol.BoardAPI`, such as the remote one: same methods,
    same arguments, same errors."""

    def __init__(
        self, board: BoardAPI, *, _runner: asyncio.Runner | None = None, _owns: bool | None = None
    ) -> None:
        self.board = board
        # a view made by acting_as/login shares the loop and closes nothing
        self._owns = _runner is None if _owns is None else _owns
        self._runner = _runner or asyncio.Runner()
        self._closed = False

    @classmethod
    def starting(cls, start: Callable[[], Coroutine[Any, Any, BoardAPI]]) -> SyncBoard:
        """A blocking board over the one ``start()`` makes on this board's own loop
        (what a remote board needs: its connections belong to that loop)."""
        runner = asyncio.Runner()
        try:
            board = runner.run(start())
        except BaseException:
            runner.close()
            raise
        return cls(board, _runner=runner, _owns=True)

    @property
    def principal(self) -> Principal:
        return self.board.principal

    def acting_as(self, principal: Principal) -> SyncBoard:
        """This board acting as ``principal`` (closing the view closes nothing). Only a
        local board can: a remote one acts as its token."""
        if not isinstance(self.board, Board):
            raise UsageError("a remote board acts as its token; connect with another token")
        return SyncBoard(self.board.acting_as(principal), _runner=self._runner)

    def login(self, token: str) -> SyncBoard:
        """This board acting as the participant ``token`` was issued to (for a remote
        board: the same server, another token)."""
        if isinstance(self.board, Board):
            return self.acting_as(self.authenticate(token))
        login: Callable[[str], Coroutine[Any, Any, BoardAPI]] | None
        login = getattr(self.board, "login", None)
        if login is None:
            raise UsageError(f"{type(self.board).__name__} cannot log in with another token")
        return SyncBoard(self._runner.run(login(token)), _runner=self._runner)

    @classmethod
    def open(cls, url: str | Path, **kwargs: Any) -> SyncBoard:
        return cls(Board.open(url, **kwargs))

    def close(self) -> None:
        if not self._owns:
            return
        self._closed = True
        try:
            self._runner.run(self.board.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    create_run = _blocking(Board.create_run)
    create_goal_run = _blocking(Board.create_goal_run)
    add_tasks = _blocking(Board.add_tasks)
    record_usage = _blocking(Board.record_usage)
    escalate = _blocking(Board.escalate)
    escalations = _blocking(Board.escalations)
    messages = _blocking(Board.messages)
    pause_run = _blocking(Board.pause_run)
    resume_run = _blocking(Board.resume_run)
    cancel_run = _blocking(Board.cancel_run)
    claim = _blocking(Board.claim)
    heartbeat = _blocking(Board.heartbeat)
    submit = _blocking(Board.submit)
    submit_and_claim = _blocking(Board.submit_and_claim)
    fail = _blocking(Board.fail)
    block = _blocking(Board.block)
    release = _blocking(Board.release)
    unblock = _blocking(Board.unblock)
    approve = _blocking(Board.approve)
    reject = _blocking(Board.reject)
    abandon_review = _blocking(Board.abandon_review)
    forget_idempotency = _blocking(Board.forget_idempotency)
    cancel_task = _blocking(Board.cancel_task)
    reap_expired = _blocking(Board.reap_expired)
    post_message = _blocking(Board.post_message)
    get_run = _blocking(Board.get_run)
    list_runs = _blocking(Board.list_runs)
    get_task = _blocking(Board.get_task)
    tasks = _blocking(Board.tasks)
    events = _blocking(Board.events)
    wait_finished = _blocking(Board.wait_finished)
    wait_ended = _blocking(Board.wait_ended)
    recent_events = _blocking(Board.recent_events)
    last_progress = _blocking(Board.last_progress)
    last_seq = _blocking(Board.last_seq)
    wait_for_change = _blocking(Board.wait_for_change)
    wait_for_work = _blocking(Board.wait_for_work)
    snapshot = _blocking(Board.snapshot)
    backup = _blocking(Board.backup)
    briefing = _blocking(Board.briefing)
    count_by_state = _blocking(Board.count_by_state)
    ready_by_role = _blocking(Board.ready_by_role)
    verify_audit = _blocking(Board.verify_audit)
    export_archive = _blocking(Board.export_archive)
    register_key = _blocking(Board.register_key)
    revoke_key = _blocking(Board.revoke_key)
    sign_events = _blocking(Board.sign_events)
    event_hashes = _blocking(Board.event_hashes)
    compact_run = _blocking(Board.compact_run)
    verify_archive = _blocking(Board.verify_archive)
    set_policy = _blocking(Board.set_policy)
    policy = _blocking(Board.policy)
    check_policy = _blocking(Board.check_policy)
    start_effect = _blocking(Board.start_effect)
    record_effect = _blocking(Board.record_effect)
    effects = _blocking(Board.effects)
    watched_tasks = _blocking(Board.watched_tasks)
    similar_ids = _blocking(Board.similar_ids)
    claim_duty = _blocking(Board.claim_duty)
    renew_duty = _blocking(Board.renew_duty)
    release_duty = _blocking(Board.release_duty)
    get_duty = _blocking(Board.get_duty)
    authenticate = _blocking(Board.authenticate)
    add_participant = _blocking(Board.add_participant)
    rotate_token = _blocking(Board.rotate_token)
    revoke_participant = _blocking(Board.revoke_participant)
    get_participant = _blocking(Board.get_participant)
    participants = _blocking(Board.participants)
    record_context = _blocking(Board.record_context)
    write_artifact = _blocking(Board.write_artifact)
    read_artifact = _blocking(Board.read_artifact)
    artifact_history = _blocking(Board.artifact_history)
    diff_artifact = _blocking(Board.diff_artifact)
    artifacts = _blocking(Board.artifacts)
    reserve = _blocking(Board.reserve)
    release_reservations = _blocking(Board.release_reservations)
    reservations = _blocking(Board.reservations)

    def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> Iterator[Event]:
        """Blocking :meth:`Board.subscribe`."""
        stream: AsyncGenerator[Event, None] = self.board.subscribe(
            since=since, run_id=run_id, kinds=kinds, idle_timeout=idle_timeout
        )
        try:
            while True:
                try:
                    yield self._runner.run(_next(stream))
                except StopAsyncIteration:
                    return
        finally:
            if not self._closed:  # a generator abandoned after close() just goes away
                self._runner.run(stream.aclose())
