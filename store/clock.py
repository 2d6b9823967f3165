"""The injectable clock: all time-dependent code asks here, so tests can move time by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    """Return the current aware UTC time from the active clock."""
    return _now()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Install a clock (None restores the real one)."""
    global _now
    _now = now or (lambda: datetime.now(UTC))


class FrozenClock:
    """A clock that stands still until moved; use with set_clock in tests."""

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
