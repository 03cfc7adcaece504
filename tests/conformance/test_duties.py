"""Singleton duties (the watchdog): one live holder at a time, take-over after expiry
with a new fencing token, renewals refused to a holder that was taken over."""

from __future__ import annotations

import math

import pytest

from baton import InvalidArgument, LeaseLost, SyncBoard
from tests.conformance._util import unchanged
from tests.helpers import ManualClock


def test_one_holder_at_a_time_and_take_over_after_expiry(
    board: SyncBoard, clock: ManualClock
) -> None:
    assert board.get_duty("watchdog") is None
    first = board.claim_duty("watchdog", "w1", lease_s=10)
    assert first is not None and first.holder == "w1" and first.token == 1
    assert board.claim_duty("watchdog", "w2", lease_s=10) is None  # alive: not yours
    again = board.claim_duty("watchdog", "w1", lease_s=10)  # the holder renews
    assert again is not None and again.token == 1

    clock.advance(11)  # w1 died: its lease ran out
    taken = board.claim_duty("watchdog", "w2", lease_s=10)
    assert taken is not None and taken.holder == "w2" and taken.token == 2
    assert board.get_duty("watchdog") == taken

    with unchanged(board), pytest.raises(LeaseLost) as info:  # w1 comes back
        board.renew_duty("watchdog", first.token, "w1", lease_s=10)
    assert "held by w2" in str(info.value)


def test_renew_extends_and_release_frees_at_once(board: SyncBoard, clock: ManualClock) -> None:
    held = board.claim_duty("watchdog", "w1", lease_s=10)
    assert held is not None
    clock.advance(8)
    renewed = board.renew_duty("watchdog", held.token, "w1", lease_s=10)
    assert renewed.expires_at == clock.now + 10
    clock.advance(8)  # past the first expiry, within the renewed one
    assert board.claim_duty("watchdog", "w2", lease_s=10) is None
    board.release_duty("watchdog", held.token, "w1")
    taken = board.claim_duty("watchdog", "w2", lease_s=10)
    assert taken is not None and taken.token == 2


def test_a_renewal_after_the_lease_ran_out_is_refused_and_says_so(
    board: SyncBoard, clock: ManualClock
) -> None:
    """Nobody has taken it over yet, but anyone may: the late holder must stop, and the
    error says it was late, not that someone else holds it."""
    held = board.claim_duty("watchdog", "w1", lease_s=10)
    assert held is not None
    clock.advance(12.5)
    with unchanged(board), pytest.raises(LeaseLost) as info:
        board.renew_duty("watchdog", held.token, "w1", lease_s=10)
    assert "ran out 2.5s before renewal" in str(info.value)
    taken = board.claim_duty("watchdog", "w2", lease_s=10)
    assert taken is not None and taken.token == 2


def test_a_duty_keeps_its_expiry_to_the_millisecond_at_real_unix_times(
    board: SyncBoard, clock: ManualClock
) -> None:
    """Times near 1.8e9 s, as a real clock gives: the stored expiry must be the one
    given (PostgreSQL once kept it in a 4-byte float, to the nearest 128 s)."""
    clock.now = 1_796_612_345.678
    held = board.claim_duty("watchdog", "w1", lease_s=10)
    assert held is not None
    stored = board.get_duty("watchdog")
    assert stored is not None and abs(stored.expires_at - (clock.now + 10)) < 0.001
    clock.advance(9.9)
    assert board.claim_duty("watchdog", "w2", lease_s=10) is None  # alive: not yours
    clock.advance(0.2)
    taken = board.claim_duty("watchdog", "w2", lease_s=10)
    assert taken is not None and taken.token == 2


def test_a_stale_release_changes_nothing(board: SyncBoard, clock: ManualClock) -> None:
    old = board.claim_duty("watchdog", "w1", lease_s=10)
    assert old is not None
    clock.advance(11)
    assert board.claim_duty("watchdog", "w2", lease_s=10) is not None
    with unchanged(board):
        board.release_duty("watchdog", old.token, "w1")


@pytest.mark.parametrize("lease_s", [0, -1, math.nan, math.inf, 10**9])
def test_a_bad_duty_lease_is_refused(board: SyncBoard, lease_s: float) -> None:
    with unchanged(board), pytest.raises(InvalidArgument):
        board.claim_duty("watchdog", "w1", lease_s=lease_s)
