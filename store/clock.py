"""The injectable clock: time-dependent code asks the runtime's clock, so tests move time by hand.

A clock is any callable returning an aware UTC datetime. The runtime holds one; tests give it
a FrozenClock and advance that, so nothing sleeps for a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current aware UTC time from the system."""
    return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime) -> None:
        """Start at START (aware)."""
        self.current = start

    def __call__(self) -> datetime:
        """Return the current frozen time."""
        return self.current

    def advance(self, **delta: float) -> datetime:
        """Move forward by a timedelta's keyword arguments and return the new time."""
        self.current += timedelta(**delta)
        return self.current

    def set(self, moment: datetime) -> datetime:
        """Jump to MOMENT (aware) and return it."""
        self.current = moment
        return moment
